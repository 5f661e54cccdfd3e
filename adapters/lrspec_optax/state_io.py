"""Optimizer state checkpoints as ``.npz``: one array per flattened leaf.

File layout: ``leaf_00000`` ... (the state's leaves in ``jax.tree_util`` order, as NumPy
arrays) and ``__lrspec__`` (a JSON string: ``{"format": 1, "fingerprint": ..., "paths": [...]}``
with each leaf's ``jax.tree_util.keystr`` path). Loading is the reverse against the compiled
state's structure; nothing is unpickled. Sharded leaves are gathered to the host on save;
put a loaded state back on devices with ``jax.device_put(state, shardings)``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from lrspec.errors import CheckpointError

__all__ = ["load_state", "save_state"]

_META = "__lrspec__"


def save_state(path: str | os.PathLike[str], state: Any, fingerprint: str) -> None:
    """Write ``state`` (this plan's, fingerprint ``fingerprint``) to ``path``."""
    import jax

    got = getattr(state, "fingerprint", None)
    if got != fingerprint:
        raise CheckpointError(f"save_state: the state belongs to plan {got}, not to this plan {fingerprint}")
    with_path, _ = jax.tree_util.tree_flatten_with_path(state)
    arrays = {f"leaf_{k:05d}": np.asarray(jax.device_get(leaf)) for k, (_, leaf) in enumerate(with_path)}
    meta = {"format": 1, "fingerprint": fingerprint, "paths": [jax.tree_util.keystr(p) for p, _ in with_path]}
    arrays[_META] = np.asarray(json.dumps(meta))
    with open(os.fspath(path), "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_state(path: str | os.PathLike[str], template: Any, fingerprint: str) -> Any:
    """Read a state saved by :func:`save_state`, checked against ``template`` (the compiled
    state's structure) and ``fingerprint``."""
    import jax
    import jax.numpy as jnp

    where = os.fspath(path)
    try:
        with np.load(where, allow_pickle=False) as data:
            files = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot read the optimizer state: {exc}") from None
    if _META not in files:
        raise CheckpointError(f"{where}: not an lrspec optax state (no {_META} entry)")
    try:
        meta = json.loads(str(files[_META]))
        saved_fp, paths = str(meta["fingerprint"]), list(meta["paths"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{where}: corrupt {_META} entry: {exc}") from None
    if saved_fp != fingerprint:
        raise CheckpointError(
            f"{where}: the optimizer state belongs to plan {saved_fp}, not to this plan {fingerprint}: "
            "it was saved for another spec or model"
        )
    with_path, treedef = jax.tree_util.tree_flatten_with_path(template)
    want = [jax.tree_util.keystr(p) for p, _ in with_path]
    if paths != want:
        raise CheckpointError(f"{where}: the state's leaves ({len(paths)}) are not this plan's ({len(want)})")
    leaves = []
    for k, (_, spec) in enumerate(with_path):
        arr = files.get(f"leaf_{k:05d}")
        if arr is None or tuple(arr.shape) != tuple(spec.shape) or arr.dtype != np.dtype(spec.dtype):
            raise CheckpointError(f"{where}: leaf {want[k]} is missing or has the wrong shape or dtype")
        leaves.append(jnp.asarray(arr))
    return jax.tree_util.tree_unflatten(treedef, leaves)
