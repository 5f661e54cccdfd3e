"""Resolution: a :class:`~lrspec.spec.Spec` plus parameter names -> :class:`~lrspec.plan.Plan`.

The cascade (docs/spec.md): a parameter collects every group whose patterns match it, in
file order; each setting comes from the last matching group that sets it, else from
``optimizer``/``schedule``. ``lr``/``lr_mult`` set the same thing, as do
``weight_decay``/``decay_mult``. Layer decay then multiplies the lr by
``rate ** (D - 1 - d)``. Parameters with identical effective settings are merged into one
plan group; groups are ordered by the first appearance of their parameters.

Performance: names are matched with one regex scan per pattern (:class:`NameIndex`), and the
cascade runs once per distinct combination of (matched groups, layer), not once per name.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lrspec.errors import ResolveError
from lrspec.patterns import NameIndex, Pattern, compile_pattern
from lrspec.plan import Plan, PlanGroup
from lrspec.spec import FAMILY_HYPERPARAMETERS, ConstantSchedule, FreezeUntil, Spec

__all__ = ["normalize_params", "resolve"]

Shape = tuple[int, ...]


def normalize_params(params: Iterable[str] | Mapping[str, Any]) -> tuple[list[str], list[Shape | None]]:
    """Names (and shapes, if a mapping name -> shape was given), validated."""
    names: list[str] = []
    shapes: list[Shape | None] = []
    if isinstance(params, Mapping):
        items: Iterable[tuple[Any, Any]] = params.items()
    else:
        if isinstance(params, (str, bytes)):
            raise ResolveError("params must be an iterable of names or a mapping name -> shape, not a string")
        items = ((p, None) for p in params)
    seen: set[str] = set()
    for name, shape in items:
        if not isinstance(name, str) or not name or "\n" in name:
            raise ResolveError(f"invalid parameter name {name!r}: names must be non-empty strings without newlines")
        if name in seen:
            raise ResolveError(f"parameter name {name!r} is listed twice")
        seen.add(name)
        names.append(name)
        if shape is None:
            shapes.append(None)
        else:
            try:
                shapes.append(tuple(int(d) for d in shape))
            except (TypeError, ValueError):
                raise ResolveError(f"invalid shape for {name!r}: {shape!r}") from None
    return names, shapes


def _closest(word: str, names: Sequence[str]) -> list[str]:
    pool = names if len(names) <= 5000 else names[:5000]
    return difflib.get_close_matches(word.replace("*", ""), list(pool), n=3, cutoff=0.5)


def _names_hint(names: Sequence[str], pattern: str) -> str:
    close = _closest(pattern, names)
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    hint = f"; closest names: {', '.join(close)}" if close else ""
    return f"{hint}; the parameters are: {shown}"


def _layer_depths(spec: Spec, names: Sequence[str], index: NameIndex) -> tuple[np.ndarray, list[str], list[str]]:
    """Per-name layer depth (-1: no layer) and the expanded layer labels, input side first."""
    depth = np.full(len(names), -1, dtype=np.int64)
    errors: list[str] = []
    if spec.layer_decay is None:
        return depth, [], errors
    assigned = np.zeros(len(names), dtype=bool)
    per_pattern: list[tuple[Pattern, list[int], dict[int, int]]] = []
    for j, source in enumerate(spec.layer_decay.layers):
        pattern = compile_pattern(source, allow_index=True)
        hits = [k for k in index.matches(pattern) if not assigned[k]]
        if not index.matches(pattern):
            errors.append(f"layer_decay.layers[{j}]: pattern {source!r} matches no parameter" + _names_hint(names, source))
        indices: dict[int, int] = {}
        if pattern.has_index:
            for k in hits:
                i = pattern.index_of(names[k])
                assert i is not None
                indices[k] = i
        assigned[hits] = True
        per_pattern.append((pattern, hits, indices))
    labels: list[str] = []
    for pattern, hits, indices in per_pattern:
        if pattern.has_index:
            found = sorted(set(indices.values()))
            rank = {i: len(labels) + r for r, i in enumerate(found)}
            labels += [pattern.source.replace("{i}", str(i)) for i in found]
            for k in hits:
                depth[k] = rank[indices[k]]
        else:
            if hits:
                depth[hits] = len(labels)
            labels.append(pattern.source)
    return depth, labels, errors


def _freeze_of(value: Any) -> tuple[bool, int | None]:
    """(permanent, until_step) of a freeze setting."""
    if value is True:
        return True, None
    if isinstance(value, FreezeUntil):
        return False, value.until_step if value.until_step > 0 else None
    return False, None


def resolve(spec: Spec, params: Iterable[str] | Mapping[str, Any]) -> Plan:
    """Resolve ``spec`` against parameter names (or a mapping name -> shape) into a Plan.

    Raises :class:`lrspec.ResolveError` when a pattern of a non-optional group matches no
    parameter, when ``unmatched: error`` and some parameter matches no group, or when the
    effective hyperparameters of a parameter are invalid (e.g. nesterov without momentum).
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"resolve() needs a lrspec.Spec, got {type(spec).__name__}; use lrspec.load() first")
    names, shapes = normalize_params(params)
    if not names:
        raise ResolveError("no parameters to resolve (the model has no parameters?)")
    n = len(names)
    index = NameIndex(names)
    groups = spec.groups
    matched = np.zeros((n, max(len(groups), 1)), dtype=bool)
    errors: list[str] = []
    for gi, group in enumerate(groups):
        for j, source in enumerate(group.params):
            hits = index.matches(compile_pattern(source))
            if hits:
                matched[hits, gi] = True
            elif not group.optional:
                errors.append(
                    f"groups[{gi}].params[{j}] (group {group.name!r}): pattern {source!r} matches no parameter"
                    + _names_hint(names, source)
                    + " (set optional: true on the group to allow this)"
                )
    depth, layer_labels, layer_errors = _layer_depths(spec, names, index)
    errors += layer_errors
    if spec.unmatched == "error" and groups:
        unmatched_rows = np.flatnonzero(~matched[:, : len(groups)].any(axis=1))
        if len(unmatched_rows):
            shown = [names[k] for k in unmatched_rows[:20]]
            more = f", ... ({len(unmatched_rows)} in all)" if len(unmatched_rows) > 20 else ""
            errors.append(f"unmatched: error, and {len(unmatched_rows)} parameter(s) match no group: {', '.join(shown)}{more}")
    elif spec.unmatched == "error":
        errors.append(f"unmatched: error, but the spec has no groups, so all {n} parameters are unmatched")
    if errors:
        raise ResolveError("cannot resolve the spec:\n  " + "\n  ".join(errors) if len(errors) > 1 else errors[0])

    # distinct (matched groups, depth) combinations, in first-appearance order
    packed = np.packbits(matched, axis=1)
    keys = np.concatenate([packed, depth.astype("<i8").view(np.uint8).reshape(n, 8)], axis=1)
    keys = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    combo_of_name = rank[inverse.ravel()]

    num_layers = len(layer_labels)
    settings_to_group: dict[str, int] = {}
    built: list[dict[str, Any]] = []
    combo_group: list[int] = []
    combos: list[tuple[str, ...]] = []
    for c in order:
        row = int(first[c])
        gis = [gi for gi in range(len(groups)) if matched[row, gi]]
        d = int(depth[row])
        settings = _cascade(spec, gis, d, num_layers)
        key = json.dumps(settings["key"], sort_keys=True, default=str)
        if key not in settings_to_group:
            settings_to_group[key] = len(built)
            built.append({**settings, "sources": set(gis), "depths": {d}})
        else:
            b = built[settings_to_group[key]]
            b["sources"].update(gis)
            b["depths"].add(d)
        combo_group.append(settings_to_group[key])
        combos.append(tuple(groups[gi].name for gi in gis))

    group_of_name = np.asarray(combo_group, dtype=np.int64)[combo_of_name]
    by_group = np.argsort(group_of_name, kind="stable")
    counts = np.bincount(group_of_name, minlength=len(built))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    plan_groups: list[PlanGroup] = []
    used: set[str] = set()
    for g, b in enumerate(built):
        members = tuple(names[k] for k in by_group[bounds[g] : bounds[g + 1]])
        sources = tuple(groups[gi].name for gi in sorted(b["sources"]))
        layer = next(iter(b["depths"])) if len(b["depths"]) == 1 and -1 not in b["depths"] else None
        name = _group_name(sources, layer, used)
        used.add(name)
        plan_groups.append(
            PlanGroup(
                name=name,
                params=members,
                sources=sources,
                lr=b["lr"],
                weight_decay=b["weight_decay"],
                hyperparameters=b["hyperparameters"],
                schedule=b["schedule"],
                frozen=b["frozen"],
                frozen_until=b["frozen_until"],
                layer=layer,
            )
        )
    return Plan(
        optimizer=spec.optimizer,
        groups=tuple(plan_groups),
        names=tuple(names),
        _group_index=group_of_name.tolist(),
        _combo_index=combo_of_name.tolist(),
        _combos=tuple(combos),
        _layers=depth.tolist(),
        _shapes=tuple(shapes),
        layer_names=tuple(layer_labels),
    )


def _group_name(sources: tuple[str, ...], layer: int | None, used: set[str]) -> str:
    if not sources:
        base = "default"
    elif len(sources) <= 3:
        base = "+".join(sources)
    else:
        base = f"{sources[0]}+{len(sources) - 1}more"
    if layer is not None:
        base += f"@layer{layer}"
    name, k = base, 2
    while name in used:
        name, k = f"{base}#{k}", k + 1
    return name


def _cascade(spec: Spec, gis: list[int], depth: int, num_layers: int) -> dict[str, Any]:
    """Effective settings of a parameter matched by spec groups ``gis`` at layer ``depth``."""
    opt = spec.optimizer
    family = opt.type
    lr = opt.lr
    wd = opt.weight_decay
    freeze: Any = None
    schedule = spec.schedule
    hyper: dict[str, Any] = {h: getattr(opt, h) for h in FAMILY_HYPERPARAMETERS[family]}
    setters: dict[str, str] = {}
    for gi in gis:
        g = spec.groups[gi]
        if g.lr is not None:
            lr = g.lr
        elif g.lr_mult is not None:
            lr = opt.lr * g.lr_mult
        if g.weight_decay is not None:
            wd = g.weight_decay
        elif g.decay_mult is not None:
            wd = opt.weight_decay * g.decay_mult
        if g.freeze is not None:
            freeze = g.freeze
        if g.schedule is not None:
            schedule = g.schedule
        for h, v in g.hyperparameters_set().items():
            hyper[h] = v
            setters[h] = g.name
    if not gis and spec.unmatched == "freeze":
        freeze = True
    if spec.layer_decay is not None and depth >= 0:
        lr = lr * math.pow(spec.layer_decay.rate, num_layers - 1 - depth)
    if family == "sgd" and hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        who = ", ".join(sorted({setters.get(h, "optimizer") for h in ("momentum", "dampening", "nesterov")}))
        raise ResolveError(
            f"nesterov needs momentum > 0 and dampening = 0, but parameters matched by groups "
            f"{[spec.groups[gi].name for gi in gis]} get momentum={hyper['momentum']}, "
            f"dampening={hyper['dampening']} (set by: {who})"
        )
    permanent, until = _freeze_of(freeze)
    if permanent:
        lr, wd = 0.0, 0.0
        hyper = {h: getattr(opt, h) for h in FAMILY_HYPERPARAMETERS[family]}
        schedule = ConstantSchedule(type="constant")
    key = {
        "frozen": permanent,
        "until": until,
        "lr": repr(lr),
        "wd": repr(wd),
        "hyper": {k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()},
        "schedule": schedule.model_dump(mode="json"),
    }
    return {
        "key": key,
        "lr": float(lr),
        "weight_decay": float(wd),
        "hyperparameters": hyper,
        "schedule": schedule,
        "frozen": permanent,
        "frozen_until": until,
    }
