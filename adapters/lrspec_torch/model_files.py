"""PyTorch model files: parameter names and shapes of a saved state_dict, without building a model.

:func:`read_model_file` reads

* ``.pt`` / ``.pth`` / ``.bin``: a state_dict saved with ``torch.save``, loaded with
  ``torch.load(path, map_location="cpu", weights_only=True)`` (never arbitrary unpickling),
  memory-mapped (``mmap=True``) when the file is torch.save's zip format so tensor data is not
  read; legacy (pre-1.6 pickle) files are loaded without ``mmap``. A dict holding the
  state_dict under ``state_dict``, ``model_state_dict`` or ``model`` is accepted too;
* ``.safetensors``: the names, dtypes and shapes in the file's JSON header (8-byte
  little-endian header length, then the JSON), read directly: no tensor data is loaded and
  neither ``safetensors`` nor ``torch`` is needed to parse it.

Rules shared by both: buffers are dropped (non-floating tensors and names ending in
``.running_mean``, ``.running_var``, ``.num_batches_tracked``), a ``module.`` prefix shared by
every key (DistributedDataParallel) is removed, and every name goes through
:func:`lrspec_torch.names.canonical_name`, the torch target's one naming rule. Unreadable
files raise :class:`lrspec.errors.SourceError` naming the path and the cause. The result is a
:class:`ModelFileShapes` (a dict name -> shape whose ``kind`` is ``"torch-checkpoint"`` or
``"safetensors"``), in file order.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Mapping
from typing import Any

from lrspec.errors import SourceError

__all__ = ["ModelFileShapes", "read_model_file", "read_safetensors", "read_state_dict"]

Shape = tuple[int, ...]

_BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
#: The safetensors format caps its JSON header at 100 MB.
_MAX_HEADER = 100 * 1024 * 1024


class ModelFileShapes(dict[str, "Shape | None"]):
    """Canonical name -> shape read from a model file; ``kind`` names the format."""

    def __init__(self, kind: str, shapes: Mapping[str, Shape | None]):
        super().__init__(shapes)
        self.kind = kind


def _is_buffer(name: str, floating: bool) -> bool:
    return not floating or name.endswith(_BUFFER_SUFFIXES)


def _canonical(path: str, params: dict[str, Shape | None], what: str) -> dict[str, Shape | None]:
    """Strip a ``module.`` prefix shared by every key, then apply the torch naming rule."""
    _import_torch(path, what)  # lrspec_torch.names imports torch
    from lrspec_torch.names import canonical_name

    if params and all(k.startswith("module.") for k in params):
        params = {k[len("module.") :]: v for k, v in params.items()}
    return {canonical_name(k): v for k, v in params.items()}


def _import_torch(path: str, what: str) -> Any:
    try:
        import torch
    except ImportError:
        raise SourceError(
            path, f"{what} needs 'torch', which is not installed; install it with: pip install 'lrspec[torch]'"
        ) from None
    return torch


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when the message is empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: How a legacy (pre-1.6) torch.save file starts: a pickle (protocol 2+: 0x80 and the
#: protocol) of torch's magic number 0x1950a86a20f9469cfc6c as a LONG1 (0x8a, 10 bytes).
_LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def _is_legacy_pickle(path: str) -> bool:
    """True for a legacy torch.save file (its first pickle is torch's magic number)."""
    with open(path, "rb") as fh:
        head = fh.read(14)
    return len(head) == 14 and head[0] == 0x80 and head[2:4] == b"\x8a\x0a" and head[4:] == _LEGACY_MAGIC


def _is_torch_zip(path: str) -> bool:
    """True for torch.save's zip format: a zip archive holding ``<archive>/data.pkl``."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n == "data.pkl" or n.endswith("/data.pkl") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def read_state_dict(path: str) -> ModelFileShapes:
    """Names and shapes of the parameters of the state_dict saved in ``path`` (see the module docstring)."""
    torch = _import_torch(path, "a PyTorch checkpoint")
    is_zip = _is_torch_zip(path)
    if not is_zip and not _is_legacy_pickle(path):
        raise SourceError(
            path, "is not a PyTorch checkpoint (neither torch.save's zip format nor a legacy pickle): "
            "the file is corrupt or in another format"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except Exception as exc:
        if "Weights only load failed" in str(exc):
            raise SourceError(
                path, "holds pickled Python objects (e.g. a whole nn.Module or optimizer), which lrspec "
                "never unpickles; save model.state_dict() instead"
            ) from None
        raise SourceError(
            path, f"cannot load it with torch.load(weights_only=True): {_first_line(exc)} "
            "(only a saved state_dict can be read; save model.state_dict(), not the model)"
        ) from None
    if isinstance(obj, Mapping):
        for key in _STATE_DICT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        raise SourceError(path, f"holds a {type(obj).__name__}, not a state_dict (a mapping name -> tensor)")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise SourceError(
            path, f"is not a state_dict: {len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not tensors "
            f"({', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''})"
        )
    params: dict[str, Shape | None] = {
        k: tuple(int(d) for d in v.shape) for k, v in obj.items() if not _is_buffer(k, bool(v.is_floating_point()))
    }
    if not params:
        raise SourceError(path, "the state_dict holds no floating-point parameters")
    return ModelFileShapes("torch-checkpoint", _canonical(path, params, "a PyTorch checkpoint"))


def _safetensors_header(path: str) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked against the file's size."""
    corrupt = "is not a valid safetensors file (corrupt or truncated)"
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise SourceError(path, f"{corrupt}: {size} bytes, shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", head)
        if length > size - 8 or length > _MAX_HEADER:
            raise SourceError(
                path, f"{corrupt}: its header length ({length} bytes) exceeds the file's remaining {size - 8} bytes"
            )
        raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(path, f"{corrupt}: the header is not JSON ({_first_line(exc)})") from None
    if not isinstance(header, dict):
        raise SourceError(path, f"{corrupt}: the header is a JSON {type(header).__name__}, not an object")
    data_size = size - 8 - length
    for name, info in header.items():
        if name == "__metadata__":
            continue
        ok = (
            isinstance(info, dict)
            and isinstance(info.get("dtype"), str)
            and isinstance(info.get("shape"), list)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in info["shape"])
        )
        if not ok:
            raise SourceError(path, f"{corrupt}: the header entry {name!r} has no valid dtype and shape")
        offsets = info.get("data_offsets")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise SourceError(path, f"{corrupt}: the data of {name!r} lies outside the file ({offsets!r})")
    return header


def read_safetensors(path: str) -> ModelFileShapes:
    """Names and shapes of the floating-point tensors of a ``.safetensors`` file, from its
    header alone (names sorted, as ``safetensors.safe_open(...).keys()`` lists them)."""
    header = _safetensors_header(path)
    params: dict[str, Shape | None] = {}
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        floating = str(info["dtype"]).upper().startswith(("F", "BF"))
        if not _is_buffer(name, floating):
            params[name] = tuple(int(d) for d in info["shape"])
    if not params:
        raise SourceError(path, "the file holds no floating-point tensors")
    return ModelFileShapes("safetensors", _canonical(path, params, "a .safetensors file"))


def read_model_file(path: str) -> ModelFileShapes:
    """Canonical names and shapes of the parameters in a ``.safetensors`` file or a saved
    state_dict (``.pt``, ``.pth``, ``.bin``; see the module docstring)."""
    if path.lower().endswith(".safetensors"):
        return read_safetensors(path)
    return read_state_dict(path)
