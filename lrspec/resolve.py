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
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrspec.errors import ResolveError
from lrspec.plan import Plan, PlanGroup
from lrspec.spec.models import FAMILY_HYPERPARAMETERS, ConstantSchedule, FreezeUntil, Group, Spec
from lrspec.spec.patterns import NameIndex, compile_pattern

__all__ = ["normalize_params", "resolve"]

Shape = tuple[int, ...]


def normalize_params(params: Iterable[str] | Mapping[str, Any]) -> tuple[list[str], list[Shape | None]]:
    """Names (and shapes, if a mapping name -> shape was given), validated.

    Raises ResolveError for a string instead of an iterable, a name that is not a non-empty
    string without newlines, a name listed twice, or a shape that is not a sequence of ints.
    """
    if isinstance(params, (str, bytes)):
        raise ResolveError("params must be an iterable of names or a mapping name -> shape, not a string")
    if isinstance(params, Mapping):
        names = list(params.keys())
        raw_shapes: list[Any] = list(params.values())
    else:
        names = list(params)
        raw_shapes = [None] * len(names)
    # fast checks in C first; the loop only runs to name the culprit
    name_set = set(names) if set(map(type, names)) <= {str} else None
    if name_set is None or "" in name_set or "\n".join(names).count("\n") != max(len(names) - 1, 0):
        for name in names:
            if not isinstance(name, str) or not name or "\n" in name:
                raise ResolveError(f"invalid parameter name {name!r}: names must be non-empty strings without newlines")
    if name_set is not None and len(name_set) != len(names):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ResolveError(f"parameter name {name!r} is listed twice")
            seen.add(name)
    shapes: list[Shape | None] = []
    for name, shape in zip(names, raw_shapes):
        if shape is None:
            shapes.append(None)
            continue
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ResolveError(f"invalid shape for {name!r}: {shape!r}") from None
        if any(d < 0 for d in dims):
            raise ResolveError(f"invalid shape for {name!r}: {shape!r} (negative dimension)")
        shapes.append(dims)
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
    """Per-name layer depth (-1: no layer) and the expanded layer labels, input side first.

    Patterns are tried in order; the first that matches a name decides its layer. A ``{i}``
    pattern expands to one layer per distinct integer found (ascending, among the names it
    decides), labelled with ``{i}`` replaced by the integer.
    """
    depth = np.full(len(names), -1, dtype=np.int64)
    errors: list[str] = []
    if spec.layer_decay is None:
        return depth, [], errors
    labels: list[str] = []
    for j, source in enumerate(spec.layer_decay.layers):
        pattern = compile_pattern(source, allow_index=True)
        if pattern.has_index:
            rows, values = index.match_indices(pattern)
        else:
            rows, values = index.match_array(pattern), None
        if len(rows) == 0:
            errors.append(f"layer_decay.layers[{j}]: pattern {source!r} matches no parameter" + _names_hint(names, source))
            continue
        free = depth[rows] < 0  # names an earlier pattern decided keep their layer
        rows = rows[free]
        if values is None:
            if len(rows):
                depth[rows] = len(labels)
                labels.append(source)
            continue
        values = values[free]
        found = np.unique(values)
        depth[rows] = len(labels) + np.searchsorted(found, values)
        labels += [source.replace("{i}", str(int(i))) for i in found]
    return depth, labels, errors


def _freeze_of(value: Any) -> tuple[bool, int | None]:
    """(permanent, until_step) of a freeze setting."""
    if value is True:
        return True, None
    if isinstance(value, FreezeUntil):
        return False, value.until_step if value.until_step > 0 else None
    return False, None


def _first_appearance(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct key in first-appearance order, id of each row's key in that order)."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()]


def resolve(spec: Spec, params: Iterable[str] | Mapping[str, Any]) -> Plan:
    """Resolve ``spec`` against parameter names (or a mapping name -> shape) into a Plan.

    Raises :class:`lrspec.ResolveError` when a pattern of a non-optional group (or a
    layer-decay pattern) matches no parameter, when ``unmatched: error`` and some parameter
    matches no group, or when the effective hyperparameters of a parameter are invalid
    (e.g. nesterov without momentum). All such problems are reported together.

    Cost: one regex scan per pattern over all names, then the cascade once per distinct set
    of matched groups; linear in the number of names.
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
            hits = index.match_array(compile_pattern(source))
            if len(hits):
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

    # 1. distinct sets of matched groups ("matches"), then the cascade once per set
    packed = np.ascontiguousarray(np.packbits(matched, axis=1))
    match_keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    match_rows, match_of_name = _first_appearance(match_keys)
    rules = [_Rule.of(spec, g) for g in groups]
    bases: list[_Settings] = []
    for row in match_rows:
        gis = np.flatnonzero(matched[int(row), : len(groups)]).tolist()
        bases.append(_cascade(spec, rules, gis))

    # 2. distinct (matches, layer) combinations; layer decay scales the cascade's lr
    num_layers = len(layer_labels)
    combo_keys = match_of_name.astype(np.int64) * (num_layers + 1) + (depth + 1)
    combo_rows, combo_of_name = _first_appearance(combo_keys)
    combo_match = match_of_name[combo_rows]
    combo_depth = depth[combo_rows]
    rate = spec.layer_decay.rate if spec.layer_decay is not None else 1.0
    base_lr = np.array([b.lr for b in bases], dtype=np.float64)
    base_frozen = np.array([b.frozen for b in bases], dtype=bool)
    factor = np.ones(len(combo_rows), dtype=np.float64)
    decayed = (combo_depth >= 0) & ~base_frozen[combo_match]
    # math.pow per distinct exponent (bit-identical to the scalar formula)
    powers = np.array([math.pow(rate, num_layers - 1 - d) for d in range(num_layers)], dtype=np.float64)
    factor[decayed] = powers[combo_depth[decayed]]
    combo_lr = base_lr[combo_match] * factor

    # 3. plan groups = distinct (settings without lr, lr after layer decay), first appearance
    key_ids: dict[tuple[Any, ...], int] = {}
    base_key = np.array([key_ids.setdefault(b.key, len(key_ids)) for b in bases], dtype=np.int64)
    group_keys = np.empty(len(combo_rows), dtype=[("k", np.int64), ("lr", np.float64)])
    group_keys["k"] = base_key[combo_match]
    group_keys["lr"] = combo_lr + 0.0  # -0.0 -> 0.0
    group_first, group_of_combo = _first_appearance(group_keys)
    num_groups = len(group_first)

    group_of_name = group_of_combo[combo_of_name]
    by_group = np.argsort(group_of_name, kind="stable")
    counts = np.bincount(group_of_name, minlength=num_groups)
    bounds = [0, *np.cumsum(counts).tolist()]
    sorted_names = list(map(names.__getitem__, by_group.tolist()))

    # sources, naming groups and layer of each plan group, over the combos it merges
    deciding = [_deciding_groups(rules, b.gis) for b in bases]
    sources_of: list[set[int]] = [set() for _ in range(num_groups)]
    naming_of: list[list[tuple[int, ...]]] = [[] for _ in range(num_groups)]
    depths_of: list[set[int]] = [set() for _ in range(num_groups)]
    for g, m, d in zip(group_of_combo.tolist(), combo_match.tolist(), combo_depth.tolist()):
        sources_of[g].update(bases[m].gis)
        if deciding[m] not in naming_of[g]:
            naming_of[g].append(deciding[m])
        depths_of[g].add(d)
    source_names: dict[frozenset[int], tuple[str, ...]] = {}
    plan_groups: list[PlanGroup] = []
    used: set[str] = set()
    for g, first_combo in enumerate(group_first.tolist()):
        base = bases[int(combo_match[first_combo])]
        members = tuple(sorted_names[bounds[g] : bounds[g + 1]])
        key = frozenset(sources_of[g])
        sources = source_names.get(key)
        if sources is None:
            sources = source_names[key] = tuple(groups[gi].name for gi in sorted(key))
        depths = depths_of[g]
        layer = next(iter(depths)) if len(depths) == 1 and -1 not in depths else None
        name = _group_name([tuple(groups[gi].name for gi in d) for d in naming_of[g]], layer, used)
        used.add(name)
        plan_groups.append(
            PlanGroup(
                name=name,
                params=members,
                sources=sources,
                lr=float(combo_lr[first_combo]),
                weight_decay=base.weight_decay,
                hyperparameters=dict(base.hyperparameters),
                schedule=base.schedule,
                frozen=base.frozen,
                frozen_until=base.frozen_until,
                layer=layer,
            )
        )
    combos = tuple(bases[m].names for m in combo_match.tolist())
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


def _group_name(deciding: list[tuple[str, ...]], layer: int | None, used: set[str]) -> str:
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


def _deciding_groups(rules: list[_Rule], gis: tuple[int, ...]) -> tuple[int, ...]:
    """The matched groups (file order) that are the last to set at least one setting."""
    last: dict[str, int] = {}
    for gi in gis:
        rule = rules[gi]
        if rule.lr is not None or rule.lr_mult is not None:
            last["lr"] = gi
        if rule.weight_decay is not None or rule.decay_mult is not None:
            last["weight_decay"] = gi
        if rule.group.freeze is not None:
            last["freeze"] = gi
        if rule.group.schedule is not None:
            last["schedule"] = gi
        for h in rule.hyperparameters:
            last[h] = gi
    return tuple(sorted(set(last.values())))


def _schedule_key(schedule: Any) -> str:
    return json.dumps(schedule.model_dump(mode="json"), sort_keys=True)


@dataclass(frozen=True)
class _Rule:
    """What one spec group sets, precomputed once per resolve."""

    group: Group
    lr: float | None
    lr_mult: float | None
    weight_decay: float | None
    decay_mult: float | None
    hyperparameters: dict[str, Any]

    @staticmethod
    def of(spec: Spec, group: Group) -> _Rule:
        return _Rule(group, group.lr, group.lr_mult, group.weight_decay, group.decay_mult, group.hyperparameters_set())


@dataclass(frozen=True)
class _Settings:
    """Effective settings of a set of matched groups, before layer decay."""

    gis: tuple[int, ...]
    names: tuple[str, ...]
    lr: float
    weight_decay: float
    hyperparameters: dict[str, Any]
    schedule: Any
    frozen: bool
    frozen_until: int | None
    key: tuple[Any, ...]


def _cascade(spec: Spec, rules: list[_Rule], gis: list[int]) -> _Settings:
    """Effective settings of a parameter matched by spec groups ``gis`` (file order), before
    layer decay: each setting from the last matching group that sets it, else the optimizer's
    (or the default schedule)."""
    opt = spec.optimizer
    family = opt.type
    lr = opt.lr
    wd = opt.weight_decay
    freeze: Any = None
    schedule: Any = spec.schedule
    hyper: dict[str, Any] = {h: getattr(opt, h) for h in FAMILY_HYPERPARAMETERS[family]}
    setters: dict[str, str] = {}
    for gi in gis:
        rule = rules[gi]
        g = rule.group
        if rule.lr is not None:
            lr = rule.lr
        elif rule.lr_mult is not None:
            lr = opt.lr * rule.lr_mult
        if rule.weight_decay is not None:
            wd = rule.weight_decay
        elif rule.decay_mult is not None:
            wd = opt.weight_decay * rule.decay_mult
        if g.freeze is not None:
            freeze = g.freeze
        if g.schedule is not None:
            schedule = g.schedule
        for h, v in rule.hyperparameters.items():
            hyper[h] = v
            setters[h] = g.name
    if not gis and spec.unmatched == "freeze":
        freeze = True
    names = tuple(spec.groups[gi].name for gi in gis)
    if family == "sgd" and hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        who = ", ".join(sorted({setters.get(h, "optimizer") for h in ("momentum", "dampening", "nesterov")}))
        raise ResolveError(
            f"nesterov needs momentum > 0 and dampening = 0, but parameters matched by groups "
            f"{list(names)} get momentum={hyper['momentum']}, "
            f"dampening={hyper['dampening']} (set by: {who})"
        )
    permanent, until = _freeze_of(freeze)
    if permanent:
        lr, wd = 0.0, 0.0
        hyper = {h: getattr(opt, h) for h in FAMILY_HYPERPARAMETERS[family]}
        schedule = ConstantSchedule(type="constant")
    key = (
        permanent,
        until,
        float(wd),
        tuple((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in sorted(hyper.items())),
        _schedule_key(schedule),
    )
    return _Settings(tuple(gis), names, float(lr), float(wd), hyper, schedule, permanent, until, key)
