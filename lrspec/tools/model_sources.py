"""``--model SOURCE``: where the parameter names (and shapes) of a model come from.

:func:`open_source` turns a SOURCE string into a :class:`ModelSource`, which holds either a
live model (``module:callable``) or a mapping canonical name -> shape read from a file.
Frameworks are imported only for the sources that need them; a missing one is a
:class:`SourceError` naming the pip extra to install.

Sources, tried in this order:

* an existing file or checkpoint, by suffix:

  - ``.txt`` (or any other text file) / ``.json``: a parameter list (:mod:`lrspec.tools.paramfile`);
  - ``.pt`` / ``.pth`` / ``.bin``: a PyTorch state_dict, loaded with
    ``torch.load(path, map_location="cpu", weights_only=True)`` (no arbitrary unpickling).
    A dict holding the state_dict under ``state_dict``, ``model_state_dict`` or ``model`` is
    accepted too. Buffers are dropped (non-floating tensors and ``*.running_mean``,
    ``*.running_var``, ``*.num_batches_tracked``), as is a ``module.`` prefix shared by
    every key (DistributedDataParallel);
  - ``.safetensors``: the tensors' names and shapes (the same buffer rules), read with
    ``safetensors`` without loading the data;
  - ``.keras``: loaded with ``keras.saving.load_model(path, compile=False)`` (safe mode),
    names are the layer path of every trainable variable (``features/0/kernel`` ->
    ``features.0.kernel``);
  - ``.weights.h5``: layer names come from the file; a variable's own name is not stored, so
    it is inferred from the layer's variable ranks (``kernel``/``bias``; a lone rank >= 2
    variable is ``kernel``, so an Embedding reads as ``kernel``; ``gamma``/``beta``), else
    ``vars.<k>`` — prefer ``.keras``;
  - a TensorFlow checkpoint prefix (``ckpt/model-1`` with ``ckpt/model-1.index`` beside it,
    or a folder with a ``checkpoint`` file): ``tf.train.list_variables``; object-graph
    suffixes (``/.ATTRIBUTES/VARIABLE_VALUE``), ``save_counter``, the object graph and
    optimizer slots are dropped.

* ``module:callable`` (``module:attr.attr`` works too): the module is imported (the
  current directory is on ``sys.path``, as with uvicorn), the attribute is called with no
  arguments when it is a function or class (an existing model object is used as is), and
  the result must be a ``torch.nn.Module`` or a Keras model.

Canonical names use ``.``: TensorFlow/Keras ``/`` separators are replaced and a trailing
``:0`` removed.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrspec.errors import LrSpecError

__all__ = ["ModelSource", "SourceError", "canonical_tf_name", "framework_of", "open_source"]

Shape = tuple[int, ...]

_EXTRAS = {"torch": "lrspec[torch]", "tensorflow": "lrspec[tf]", "keras": "lrspec[tf]", "safetensors": "safetensors",
           "h5py": "h5py"}
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
_CALLABLE_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class SourceError(LrSpecError, ValueError):
    """A model source cannot be used. ``source`` is the SOURCE string, ``message`` the cause."""

    def __init__(self, source: str, message: str):
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")


@dataclass(frozen=True)
class ModelSource:
    """What a SOURCE gave: a live ``model`` (with its ``framework``: ``"torch"`` or
    ``"keras"``) or ``params`` (canonical name -> shape) read from a file, plus ``kind``
    (``callable``, ``params-file``, ``torch-checkpoint``, ``safetensors``, ``keras``,
    ``keras-weights``, ``tf-checkpoint``)."""

    source: str
    kind: str
    model: Any = None
    framework: str | None = None
    params: Mapping[str, Shape | None] | None = None


def canonical_tf_name(name: str) -> str:
    """``"features/0/kernel:0"`` -> ``"features.0.kernel"``."""
    if name.endswith(":0"):
        name = name[:-2]
    return name.replace("/", ".")


def _import(source: str, module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = _EXTRAS.get(module, module)
        raise SourceError(source, f"{what} needs {module!r}, which is not installed; install it with: pip install '{extra}'") from None


def framework_of(obj: Any) -> str | None:
    """``"torch"`` for a ``torch.nn.Module``, ``"keras"`` for a Keras layer/model, else None
    (without importing either framework)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return "torch"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(obj, keras.layers.Layer):
        return "keras"
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(obj, tf.Module):
        return "keras"
    return None


# ------------------------------------------------------------------ module:callable


def _from_callable(source: str) -> ModelSource:
    module_name, _, attr_path = source.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if missing in _EXTRAS and missing != module_name:
            raise SourceError(
                source, f"importing {module_name!r} needs {missing!r}, which is not installed; "
                f"install it with: pip install '{_EXTRAS[missing]}'"
            ) from None
        raise SourceError(source, f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:
        raise SourceError(source, f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise SourceError(source, f"module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
        try:
            obj = obj()
        except ModuleNotFoundError as exc:
            missing = exc.name or "?"
            hint = f"; install it with: pip install '{_EXTRAS[missing]}'" if missing in _EXTRAS else ""
            raise SourceError(source, f"calling {attr_path}() failed: module {missing!r} is not installed{hint}") from None
        except Exception as exc:
            raise SourceError(source, f"calling {attr_path}() failed: {type(exc).__name__}: {exc}") from None
    framework = framework_of(obj)
    if framework is None:
        raise SourceError(source, f"{attr_path} gave a {type(obj).__name__}, not a torch.nn.Module or a Keras model")
    return ModelSource(source, "callable", model=obj, framework=framework)


# ------------------------------------------------------------------ torch / safetensors


def _is_buffer(name: str, floating: bool) -> bool:
    return not floating or name.endswith(_BUFFER_SUFFIXES)


def _strip_ddp(params: dict[str, Shape | None]) -> dict[str, Shape | None]:
    if params and all(k.startswith("module.") for k in params):
        return {k[len("module."):]: v for k, v in params.items()}
    return params


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when the message is empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _looks_like_torch_save(path: str) -> bool:
    """True for torch.save's zip container or a legacy pickle (protocol 2+ starts with 0x80)."""
    import zipfile

    if zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x80"


def _from_torch_checkpoint(source: str) -> ModelSource:
    torch = _import(source, "torch", "a PyTorch checkpoint")
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        if not _looks_like_torch_save(source):
            raise SourceError(
                source, "is not a PyTorch checkpoint (neither torch.save's zip format nor a legacy pickle): "
                "the file is corrupt or in another format"
            ) from None
        if "Weights only load failed" in str(exc):
            raise SourceError(
                source, "holds pickled Python objects (e.g. a whole nn.Module or optimizer), which lrspec "
                "never unpickles; save model.state_dict() instead"
            ) from None
        raise SourceError(
            source, f"cannot load it with torch.load(weights_only=True): {_first_line(exc)} "
            "(only a saved state_dict can be read; save model.state_dict(), not the model)"
        ) from None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        raise SourceError(source, f"holds a {type(obj).__name__}, not a state_dict (a mapping name -> tensor)")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise SourceError(
            source, f"is not a state_dict: {len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not tensors "
            f"({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''})"
        )
    params: dict[str, Shape | None] = {
        k: tuple(int(d) for d in v.shape) for k, v in obj.items() if not _is_buffer(k, bool(v.is_floating_point()))
    }
    if not params:
        raise SourceError(source, "the state_dict holds no floating-point parameters")
    return ModelSource(source, "torch-checkpoint", params=_strip_ddp(params))


def _from_safetensors(source: str) -> ModelSource:
    st = _import(source, "safetensors", "a .safetensors file")
    params: dict[str, Shape | None] = {}
    try:
        with st.safe_open(source, framework="numpy") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a Mapping)
                sl = f.get_slice(key)
                dtype = str(sl.get_dtype()).upper()
                floating = dtype.startswith(("F", "BF"))
                if not _is_buffer(key, floating):
                    params[key] = tuple(int(d) for d in sl.get_shape())
    except Exception as exc:
        raise SourceError(source, f"cannot read the safetensors file: {type(exc).__name__}: {exc}") from None
    if not params:
        raise SourceError(source, "the file holds no floating-point tensors")
    return ModelSource(source, "safetensors", params=_strip_ddp(params))


# ------------------------------------------------------------------ Keras / TensorFlow


def keras_variable_paths(model: Any) -> dict[str, Shape | None]:
    """Trainable variables of a Keras model by layer path (root name excluded), canonical
    form. Walks the layer tree instead of reading ``variable.path``, which Keras does not
    restore for nested models loaded from a ``.keras`` file."""
    out: dict[str, Shape | None] = {}

    def walk(layer: Any, prefix: str) -> None:
        for v in getattr(layer, "_trainable_variables", []):
            out[canonical_tf_name(prefix + v.name)] = tuple(int(d) for d in v.shape)
        for sub in getattr(layer, "_layers", []):
            walk(sub, prefix + sub.name + "/")

    walk(model, "")
    return out


def _from_keras(source: str) -> ModelSource:
    keras = _import(source, "keras", "a .keras file")
    _import(source, "tensorflow", "a .keras file")
    try:
        model = keras.saving.load_model(source, compile=False)
    except Exception as exc:
        raise SourceError(source, f"keras cannot load the model: {_first_line(exc)}") from None
    params = keras_variable_paths(model)
    if not params:
        raise SourceError(source, "the model has no trainable variables")
    return ModelSource(source, "keras", params=params)


def _guess_var_names(shapes: list[Shape]) -> list[str]:
    ranks = [len(s) for s in shapes]
    if len(ranks) == 2 and ranks[0] >= 2 and ranks[1] == 1:
        return ["kernel", "bias"]
    if len(ranks) == 1 and ranks[0] >= 2:
        return ["kernel"]
    if ranks in ([1, 1], [1, 1, 1, 1]):
        return ["gamma", "beta", "moving_mean", "moving_variance"][: len(ranks)]
    return [f"vars.{k}" for k in range(len(ranks))]


def _from_keras_weights(source: str) -> ModelSource:
    h5py = _import(source, "h5py", "a .weights.h5 file")
    params: dict[str, Shape | None] = {}

    def walk(group: Any, prefix: str) -> None:
        vars_group = group.get("vars")
        name = vars_group.attrs.get("name") if vars_group is not None else None
        here = f"{prefix}{name}/" if name is not None else prefix
        if vars_group is not None:
            keys = sorted((k for k in vars_group if k.isdigit()), key=int)
            shapes = [tuple(int(d) for d in vars_group[k].shape) for k in keys]
            for vname, shape in zip(_guess_var_names(shapes), shapes):
                if vname not in ("moving_mean", "moving_variance"):
                    params[canonical_tf_name(here + vname)] = shape
        for key in group:
            child = group[key]
            if key == "vars" or not isinstance(child, h5py.Group):
                continue
            if key == "layers":
                for sub in child:
                    walk(child[sub], here)
            else:
                walk(child, here)

    try:
        with h5py.File(source, "r") as f:
            layers = f.get("layers")
            if layers is None:
                raise SourceError(source, "not a Keras 3 .weights.h5 file (no 'layers' group)")
            for key in layers:
                walk(layers[key], "")
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(source, f"cannot read the weights file: {type(exc).__name__}: {exc}") from None
    if not params:
        raise SourceError(source, "the file holds no variables")
    return ModelSource(source, "keras-weights", params=params)


def _tf_checkpoint_prefix(path: Path) -> str | None:
    """The checkpoint prefix ``path`` designates, or None."""
    if path.suffix == ".index" and path.is_file():
        return str(path.with_suffix(""))
    if Path(str(path) + ".index").is_file():
        return str(path)
    if path.is_dir() and (path / "checkpoint").is_file():
        return str(path)
    return None


def _from_tf_checkpoint(source: str, prefix: str) -> ModelSource:
    tf = _import(source, "tensorflow", "a TensorFlow checkpoint")
    try:
        if Path(prefix).is_dir():
            latest = tf.train.latest_checkpoint(prefix)
            if latest is None:
                raise SourceError(source, "the folder has a 'checkpoint' file but no checkpoint in it")
            prefix = latest
        listed = tf.train.list_variables(prefix)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(source, f"tf.train.list_variables failed: {_first_line(exc)}") from None
    params: dict[str, Shape | None] = {}
    for name, shape in listed:
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH" or ".OPTIMIZER_SLOT" in name:
            continue
        name = name.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE")
        if name in ("save_counter", "global_step") or name.startswith("optimizer/"):
            continue
        params[canonical_tf_name(name)] = tuple(int(d) for d in shape)
    if not params:
        raise SourceError(source, "the checkpoint holds no variables")
    return ModelSource(source, "tf-checkpoint", params=params)


# ------------------------------------------------------------------ entry point


def open_source(source: str) -> ModelSource:
    """Open a ``--model`` SOURCE (see the module docstring). Raises :class:`SourceError`."""
    path = Path(source)
    lower = source.lower()
    if path.is_file():
        if lower.endswith(".weights.h5"):
            return _from_keras_weights(source)
        if lower.endswith(".keras"):
            return _from_keras(source)
        if lower.endswith(_TORCH_SUFFIXES):
            return _from_torch_checkpoint(source)
        if lower.endswith(".safetensors"):
            return _from_safetensors(source)
    prefix = _tf_checkpoint_prefix(path)
    if prefix is not None:
        return _from_tf_checkpoint(source, prefix)
    if path.is_file():
        from lrspec.tools.paramfile import ParamFileError, read_params

        try:
            return ModelSource(source, "params-file", params=read_params(source))
        except ParamFileError as exc:
            raise SourceError(source, "; ".join(p.removeprefix(f"{source}:").strip() for p in exc.problems)) from None
    if _CALLABLE_RE.match(source):
        return _from_callable(source)
    if path.is_dir():
        raise SourceError(source, "is a folder, not a model file or checkpoint")
    raise SourceError(
        source, "no such file, and not a 'module:callable' reference "
        "(expected e.g. lrspec.examples:mnist_cnn_torch, model.pt, model.safetensors, model.keras, params.txt)"
    )
