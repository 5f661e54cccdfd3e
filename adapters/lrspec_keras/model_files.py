"""Keras / TensorFlow model files: parameter names and shapes without building the model in code.

:func:`read_model_file` reads

* ``.keras``: checked to be a zip archive with ``config.json`` (a corrupt file is reported as
  such), then loaded with ``keras.saving.load_model(path, compile=False)`` (safe mode); the
  names are the layer path of every trainable variable (root model name excluded);
* ``.weights.h5``: with ``h5py``; layer names come from the file, but a variable's own name is
  not stored, so it is inferred from the ranks of the layer's variables: (rank >= 2, rank 1)
  -> ``kernel``, ``bias``; one rank >= 2 -> ``kernel`` (so an Embedding's ``embeddings``
  reads as ``kernel``); two or four rank-1 -> ``gamma``, ``beta`` (BatchNorm's moving
  statistics are dropped); else ``vars.<k>``. Layers come in the file's (alphabetical) order;
* a TensorFlow checkpoint (see :func:`is_tf_checkpoint`): ``tf.train.list_variables``; the
  object graph, ``save_counter``, ``global_step``, optimizer slots and
  ``/.ATTRIBUTES/VARIABLE_VALUE`` suffixes are dropped.

Every name goes through :func:`lrspec_keras._names.canonical_path` (``/`` -> ``.``, a trailing
``:0`` removed), the Keras/TF targets' one naming rule. Unreadable files raise
:class:`lrspec.errors.SourceError` naming the path and the cause; a missing framework is one
naming the pip extra. The result is a :class:`ModelFileShapes` (a dict name -> shape whose
``kind`` is ``"keras"``, ``"keras-weights"`` or ``"tf-checkpoint"``).
"""

from __future__ import annotations

import importlib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrspec.errors import SourceError
from lrspec_keras._names import canonical_path

__all__ = ["ModelFileShapes", "checkpoint_prefix", "is_tf_checkpoint", "keras_variable_paths", "read_model_file"]

Shape = tuple[int, ...]

_EXTRAS = {"tensorflow": "lrspec[tf]", "keras": "lrspec[keras]", "h5py": "h5py"}


class ModelFileShapes(dict[str, "Shape | None"]):
    """Canonical name -> shape read from a model file; ``kind`` names the format."""

    def __init__(self, kind: str, shapes: Mapping[str, Shape | None]):
        super().__init__(shapes)
        self.kind = kind


def _import(path: str, module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SourceError(
            path, f"{what} needs {module!r}, which is not installed; install it with: pip install '{_EXTRAS[module]}'"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def checkpoint_prefix(path: str) -> str | None:
    """The TensorFlow checkpoint ``path`` designates, or None: a prefix with ``<prefix>.index``
    beside it (``ckpt/model-1``), that ``.index`` file itself, or a folder holding a
    ``checkpoint`` file (the folder is returned; its latest checkpoint is read). Imports no
    framework.

    >>> checkpoint_prefix("no/such/checkpoint") is None
    True
    """
    p = Path(path)
    if p.suffix == ".index" and p.is_file():
        return str(p.with_suffix(""))
    if Path(path + ".index").is_file():
        return path
    if p.is_dir() and (p / "checkpoint").is_file():
        return path
    return None


def is_tf_checkpoint(path: str) -> bool:
    """True when ``path`` designates a TensorFlow checkpoint (:func:`checkpoint_prefix`)."""
    return checkpoint_prefix(path) is not None


def keras_variable_paths(model: Any) -> dict[str, Shape | None]:
    """Trainable variables of a Keras model by layer path (root name excluded), canonical
    form. Walks the layer tree instead of reading ``variable.path``, which Keras does not
    restore for nested models loaded from a ``.keras`` file."""
    out: dict[str, Shape | None] = {}

    def walk(layer: Any, prefix: str) -> None:
        for v in getattr(layer, "_trainable_variables", []):
            out[canonical_path(prefix + v.name)] = tuple(int(d) for d in v.shape)
        for sub in getattr(layer, "_layers", []):
            walk(sub, prefix + sub.name + "/")

    walk(model, "")
    return out


def _check_keras_archive(path: str) -> None:
    """A ``.keras`` file is a zip archive holding ``config.json``; anything else is reported as
    what it is (Keras itself would say "File not found" about a file that exists)."""
    if not Path(path).is_file():
        raise SourceError(path, "no such file" if not Path(path).exists() else "is not a regular file")
    corrupt = "is not a valid .keras file (a .keras file is a zip archive with config.json)"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(path, f"{corrupt}: it is corrupt or in another format ({_first_line(exc)})") from None
    if "config.json" not in names:
        raise SourceError(path, f"{corrupt}: the archive has no config.json")


def _read_keras(path: str) -> ModelFileShapes:
    _check_keras_archive(path)
    keras = _import(path, "keras", "a .keras file")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise SourceError(path, f"keras cannot load the model: {_first_line(exc)}") from None
    params = keras_variable_paths(model)
    if not params:
        raise SourceError(path, "the model has no trainable variables")
    return ModelFileShapes("keras", params)


def _guess_var_names(shapes: list[Shape]) -> list[str]:
    ranks = [len(s) for s in shapes]
    if len(ranks) == 2 and ranks[0] >= 2 and ranks[1] == 1:
        return ["kernel", "bias"]
    if len(ranks) == 1 and ranks[0] >= 2:
        return ["kernel"]
    if ranks in ([1, 1], [1, 1, 1, 1]):
        return ["gamma", "beta", "moving_mean", "moving_variance"][: len(ranks)]
    return [f"vars.{k}" for k in range(len(ranks))]


def _read_weights_h5(path: str) -> ModelFileShapes:
    h5py = _import(path, "h5py", "a .weights.h5 file")
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
                    params[canonical_path(here + vname)] = shape
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
        with h5py.File(path, "r") as f:
            layers = f.get("layers")
            if layers is None:
                raise SourceError(path, "not a Keras 3 .weights.h5 file (no 'layers' group)")
            for key in layers:
                walk(layers[key], "")
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(path, f"cannot read the weights file: {type(exc).__name__}: {exc}") from None
    if not params:
        raise SourceError(path, "the file holds no variables")
    return ModelFileShapes("keras-weights", params)


def _read_checkpoint(path: str, prefix: str) -> ModelFileShapes:
    tf = _import(path, "tensorflow", "a TensorFlow checkpoint")
    try:
        if Path(prefix).is_dir():
            latest = tf.train.latest_checkpoint(prefix)
            if latest is None:
                raise SourceError(path, "the folder has a 'checkpoint' file but no checkpoint in it")
            prefix = latest
        listed = tf.train.list_variables(prefix)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(path, f"tf.train.list_variables failed: {_first_line(exc)}") from None
    params: dict[str, Shape | None] = {}
    for name, shape in listed:
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH" or ".OPTIMIZER_SLOT" in name:
            continue
        name = name.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE")
        if name in ("save_counter", "global_step") or name.startswith("optimizer/"):
            continue
        params[canonical_path(name)] = tuple(int(d) for d in shape)
    if not params:
        raise SourceError(path, "the checkpoint holds no variables")
    return ModelFileShapes("tf-checkpoint", params)


def read_model_file(path: str) -> ModelFileShapes:
    """Canonical names and shapes of the trainable variables stored in a ``.keras`` file, a
    ``.weights.h5`` file or a TensorFlow checkpoint (see the module docstring)."""
    lower = path.lower()
    if lower.endswith(".weights.h5"):
        return _read_weights_h5(path)
    if lower.endswith(".keras"):
        return _read_keras(path)
    prefix = checkpoint_prefix(path)
    if prefix is None:
        raise SourceError(path, "is not a .keras file, a .weights.h5 file or a TensorFlow checkpoint")
    return _read_checkpoint(path, prefix)
