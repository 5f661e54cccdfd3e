"""Canonical names of pytree leaves: the one naming rule of the ``optax`` target.

A leaf's name is its key path joined by ``.``: dict keys and attribute names as they are,
sequence indices as integers (``{"params": {"Dense_0": {"kernel": w}}}`` ->
``params.Dense_0.kernel``; ``{"layers": [{"w": w}]}`` -> ``layers.0.w``). A trailing
attribute ``value`` is dropped, so a ``flax.nnx.State`` of ``Variable``\\ s and its pure-array
form (what ``nnx.Optimizer`` hands to ``tx.update``) give the same names.

Part of the optax runtime (imports only jax; inlined by ``--emit python``).
"""

# <runtime-imports>
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax

# </runtime-imports>


def key_name(key: Any) -> str:
    """One key-path entry as a name part."""
    tu = jax.tree_util
    if isinstance(key, tu.DictKey):
        return str(key.key)
    if isinstance(key, tu.GetAttrKey):
        return str(key.name)
    if isinstance(key, tu.SequenceKey):
        return str(int(key.idx))
    if isinstance(key, tu.FlattenedIndexKey):
        return str(int(key.key))
    return str(getattr(key, "key", getattr(key, "name", key)))


def path_name(path: Sequence[Any]) -> str:
    """The canonical name of the leaf at key path ``path``."""
    keys = list(path)
    if len(keys) > 1 and isinstance(keys[-1], jax.tree_util.GetAttrKey) and keys[-1].name == "value":
        keys = keys[:-1]
    return ".".join(key_name(k) for k in keys)


def leaf_names(tree: Any) -> tuple[list[str], list[Any], Any]:
    """``(names, leaves, treedef)`` of a pytree, names in leaf order."""
    with_path, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return [path_name(p) for p, _ in with_path], [leaf for _, leaf in with_path], treedef
