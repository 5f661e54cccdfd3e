"""``freeze_statistics: true`` for the Keras targets: normalization layers of frozen variables in inference mode.

A plan group with ``freeze_statistics`` (always permanently frozen) asks for what Keras's
``trainable = False`` does to a normalization layer: it runs in inference mode, so its moving
statistics are not updated. :func:`freeze_statistics` sets ``trainable = False`` on every
``BatchNormalization`` layer (the Keras layers with moving statistics) of the model whose
variables are all in freeze_statistics groups; the layer's own variables then leave
``model.trainable_variables``, exactly as with a hand-written ``bn.trainable = False``, and the
setting is saved with the model (``.keras`` files keep it). A layer with some variables in such
a group and others trained is a :class:`TargetError`. A model given as a list of variables has
no layers: nothing to do. Without the key nothing changes: a freeze stops updates only, as in
every framework.
"""

from __future__ import annotations

from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec_keras._names import canonical_path

__all__ = ["freeze_statistics"]


def _layers(model: Any) -> list[tuple[str, Any]]:
    """(path prefix, layer) for every layer of the tree, root first (the naming rule of
    :func:`lrspec_keras._names.keras_variable_names`)."""
    out: list[tuple[str, Any]] = []
    visited: set[int] = set()

    def walk(layer: Any, prefix: str) -> None:
        if id(layer) in visited:
            return
        visited.add(id(layer))
        out.append((prefix, layer))
        for sub in getattr(layer, "_layers", []):
            walk(sub, prefix + str(sub.name) + "/")

    walk(model, "")
    return out


def freeze_statistics(plan: Plan, model: Any) -> list[str]:
    """Set ``trainable = False`` on the BatchNormalization layers of ``plan``'s freeze_statistics
    groups (see the module docstring); returns their canonical layer paths."""
    frozen = {n for g in plan.groups if g.freeze_statistics for n in g.params}
    if not frozen or not hasattr(model, "_layers"):
        return []
    import keras

    done: list[str] = []
    for prefix, layer in _layers(model):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        own = [canonical_path(prefix + str(v.name)) for v in layer._trainable_variables]
        hit = [n for n in own if n in frozen]
        if not hit:
            continue
        if len(hit) != len(own):
            raise TargetError(
                f"freeze_statistics: layer {canonical_path(prefix.rstrip('/'))!r} keeps moving statistics, but only "
                f"{', '.join(hit)} of its variables are in a freeze_statistics group; freeze all of them, or none"
            )
        layer.trainable = False
        done.append(canonical_path(prefix.rstrip("/")))
    return done
