"""Merging: plan groups are the distinct (settings without lr, lr after layer decay).

Plan groups are ordered by the first appearance of their parameters; each lists its
parameters in name order, the spec groups that matched them (``sources``), and gets a readable
unique name (:func:`group_name`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lrspec.plan import Plan, PlanGroup
from lrspec.resolve.cascade import Rule, Settings, deciding_groups
from lrspec.resolve.layers import Combos
from lrspec.resolve.matching import first_appearance
from lrspec.resolve.params import ModuleInfo, Shape
from lrspec.spec.models import Spec

__all__ = ["group_name", "merge"]


def merge(
    spec: Spec,
    names: Sequence[str],
    shapes: Sequence[Shape | None],
    rules: Sequence[Rule],
    bases: Sequence[Settings],
    combos: Combos,
    depth: Sequence[int],
    layer_labels: Sequence[str],
    modules: Sequence[ModuleInfo | None] | None = None,
) -> Plan:
    """The Plan: combos with equal settings and lr merged into one plan group."""
    groups = spec.groups
    key_ids: dict[tuple[Any, ...], int] = {}
    base_key = np.array([key_ids.setdefault(b.key, len(key_ids)) for b in bases], dtype=np.int64)
    group_keys = np.empty(len(combos.match), dtype=[("k", np.int64), ("lr", np.float64)])
    group_keys["k"] = base_key[combos.match]
    group_keys["lr"] = combos.lr + 0.0  # -0.0 -> 0.0
    group_first, group_of_combo = first_appearance(group_keys)
    num_groups = len(group_first)

    group_of_name = group_of_combo[combos.of_name]
    by_group = np.argsort(group_of_name, kind="stable")
    counts = np.bincount(group_of_name, minlength=num_groups)
    bounds = [0, *np.cumsum(counts).tolist()]
    sorted_names = list(map(names.__getitem__, by_group.tolist()))

    # sources, naming groups and layer of each plan group, over the combos it merges
    deciding = [deciding_groups(rules, b.gis) for b in bases]
    sources_of: list[set[int]] = [set() for _ in range(num_groups)]
    naming_of: list[list[tuple[int, ...]]] = [[] for _ in range(num_groups)]
    depths_of: list[set[int]] = [set() for _ in range(num_groups)]
    for g, m, d in zip(group_of_combo.tolist(), combos.match.tolist(), combos.depth.tolist()):
        sources_of[g].update(bases[m].gis)
        if deciding[m] not in naming_of[g]:
            naming_of[g].append(deciding[m])
        depths_of[g].add(d)
    source_names: dict[frozenset[int], tuple[str, ...]] = {}
    plan_groups: list[PlanGroup] = []
    used: set[str] = set()
    show_family = any(b.family != spec.optimizer.type for b in bases)
    for g, first_combo in enumerate(group_first.tolist()):
        base = bases[int(combos.match[first_combo])]
        members = tuple(sorted_names[bounds[g] : bounds[g + 1]])
        key = frozenset(sources_of[g])
        sources = source_names.get(key)
        if sources is None:
            sources = source_names[key] = tuple(groups[gi].name for gi in sorted(key))
        depths = depths_of[g]
        layer = next(iter(depths)) if len(depths) == 1 and -1 not in depths else None
        name = group_name([tuple(groups[gi].name for gi in d) for d in naming_of[g]], layer, used)
        used.add(name)
        plan_groups.append(
            PlanGroup(
                name=name,
                params=members,
                sources=sources,
                lr=float(combos.lr[first_combo]),
                weight_decay=base.weight_decay,
                hyperparameters=dict(base.hyperparameters),
                schedule=base.schedule,
                frozen=base.frozen,
                frozen_until=base.frozen_until,
                layer=layer,
                freeze_statistics=base.freeze_statistics,
                family=base.family,
                _show_family=show_family,
            )
        )
    return Plan(
        optimizer=spec.optimizer,
        groups=tuple(plan_groups),
        names=tuple(names),
        _group_index=group_of_name.tolist(),
        _combo_index=combos.of_name.tolist(),
        _combos=tuple(bases[m].names for m in combos.match.tolist()),
        _layers=list(depth),
        _shapes=tuple(shapes),
        layer_names=tuple(layer_labels),
        _modules=None if modules is None or all(m is None for m in modules) else tuple(modules),
    )


def group_name(deciding: list[tuple[str, ...]], layer: int | None, used: set[str]) -> str:
    """A readable, unique plan-group name.

    Each set of matched spec groups is named after the groups that *decide* a setting (the
    last matching group setting each field, as in the cascade), e.g. ``conv+stem``;
    ``default`` when none does. A plan group that merges several such sets keeps the
    minimal ones (a set containing another adds nothing) joined with ``|``, e.g.
    ``head_a|head_b``; ``@layer{d}`` marks a layer-decay depth; ``#2``... disambiguates.
    """
    minimal = [d for d in deciding if not any(set(o) < set(d) for o in deciding)]
    parts = ["+".join(d) if len(d) <= 3 else f"{d[0]}+{len(d) - 1}more" for d in minimal]
    parts = [p or "default" for p in parts] or ["default"]
    base = "|".join(parts) if len(parts) <= 3 else f"{parts[0]}|+{len(parts) - 1}more"
    if layer is not None:
        base += f"@layer{layer}"
    name, k = base, 2
    while name in used:
        name, k = f"{base}#{k}", k + 1
    return name
