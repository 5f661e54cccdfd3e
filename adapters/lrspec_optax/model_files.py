"""Reading parameter pytrees saved to files, without executing anything.

* ``.npz``: one array per parameter, keys are flattened paths, ``a.b.c`` or ``a/b/c``
  (``/`` becomes ``.``); read with ``allow_pickle=False``, only the headers' shapes.
* ``.msgpack``: a flax ``serialization.to_bytes``/``msgpack_serialize`` file, read with
  ``flax.serialization.msgpack_restore`` (plain msgpack with flax's array extension: no code
  runs); nested dicts are flattened to dotted names.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from lrspec.tools.model_sources import SourceError

__all__ = ["read_model_file"]


def _npz_shapes(path: str) -> dict[str, tuple[int, ...] | None]:
    out: dict[str, tuple[int, ...] | None] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                if np.dtype(dtype).kind not in "fc":
                    continue
                out[info.filename[: -len(".npy")].replace("/", ".")] = tuple(int(d) for d in shape)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise SourceError(path, f"cannot read the .npz file: {type(exc).__name__}: {exc}") from None
    return out


def _flatten(tree: Any, prefix: str, out: dict[str, tuple[int, ...] | None]) -> None:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, f"{prefix}{k}.", out)
        return
    shape = getattr(tree, "shape", None)
    dtype = getattr(tree, "dtype", None)
    if shape is not None and dtype is not None and np.dtype(dtype).kind in "fc":
        out[prefix[:-1]] = tuple(int(d) for d in shape)


def _msgpack_shapes(path: str) -> dict[str, tuple[int, ...] | None]:
    try:
        from flax import serialization
    except ImportError:
        raise SourceError(
            path, "reading .msgpack needs 'flax', which is not installed; install it with: pip install flax"
        ) from None
    try:
        with open(path, "rb") as f:
            tree = serialization.msgpack_restore(f.read())
    except Exception as exc:
        raise SourceError(path, f"cannot read the msgpack file: {type(exc).__name__}: {exc}") from None
    if not isinstance(tree, dict):
        raise SourceError(path, f"holds a {type(tree).__name__}, not a dict of parameters")
    out: dict[str, tuple[int, ...] | None] = {}
    _flatten(tree, "", out)
    return out


def read_model_file(path: str) -> dict[str, tuple[int, ...] | None]:
    """Canonical names and shapes of the floating-point arrays in ``path`` (``.npz`` or
    ``.msgpack``). Raises :class:`lrspec.tools.model_sources.SourceError`."""
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise SourceError(where, "no such file")
    shapes = _msgpack_shapes(where) if where.lower().endswith(".msgpack") else _npz_shapes(where)
    if not shapes:
        raise SourceError(where, "the file holds no floating-point arrays")
    return shapes
