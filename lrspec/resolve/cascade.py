"""The cascade: the effective settings of a parameter from the spec groups that match it.

Each setting comes from the last matching group (file order) that sets it, else from
``optimizer``/``schedule``. ``lr``/``lr_mult`` set the same thing (``lr_mult`` multiplies
``optimizer.lr``), as do ``weight_decay``/``decay_mult``. ``unmatched: freeze`` freezes a
parameter no group matches. A permanent freeze zeroes lr and weight decay and resets the
hyperparameters and schedule to the optimizer's (they are never used). Layer decay is applied
afterwards (:mod:`lrspec.resolve.layers`). The cascade runs once per distinct set of matched
groups (:func:`settings_per_match`), not once per name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.errors import ResolveError
from lrspec.resolve.matching import first_appearance
from lrspec.spec.families import FAMILY_HYPERPARAMETERS, FAMILY_NDIMS
from lrspec.spec.models import ConstantSchedule, FreezeUntil, Group, Spec

__all__ = [
    "Rule",
    "Settings",
    "cascade",
    "checked_product",
    "deciding_groups",
    "family_shape_errors",
    "group_lr",
    "group_weight_decay",
    "rules_of",
    "settings_per_match",
]


def settings_per_match(
    spec: Spec, matched: npt.NDArray[np.bool_]
) -> tuple[list[Rule], list[Settings], npt.NDArray[np.intp]]:
    """(rules of the spec groups, settings of each distinct set of matched groups in first-
    appearance order, index of each name's set). Raises ResolveError from :func:`cascade`."""
    groups = spec.groups
    packed = np.ascontiguousarray(np.packbits(matched, axis=1))
    match_keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    match_rows, match_of_name = first_appearance(match_keys)
    rules = rules_of(spec)
    bases = [cascade(spec, rules, np.flatnonzero(matched[int(row), : len(groups)]).tolist()) for row in match_rows]
    return rules, bases, match_of_name


def rules_of(spec: Spec) -> list[Rule]:
    """The :class:`Rule` of every spec group, in file order."""
    return [Rule.of(spec, g) for g in spec.groups]


def _freeze_of(value: Any) -> tuple[bool, int | None]:
    """(permanent, until_step) of a freeze setting."""
    if value is True:
        return True, None
    if isinstance(value, FreezeUntil):
        return False, value.until_step if value.until_step > 0 else None
    return False, None


def checked_product(base: float, mult: float, what: str, where: str) -> float:
    """``base * mult``, or ResolveError when it overflows to inf or underflows to 0 (both
    factors non-zero): a float64 cannot hold the value the spec asks for."""
    value = base * mult
    if not math.isfinite(value) or (value == 0 and base != 0 and mult != 0):
        kind = "overflows to inf" if not math.isfinite(value) else "underflows to 0"
        raise ResolveError(f"{where}: {what} = {base!r} * {mult!r} {kind} (outside the range of a float64)")
    return value


def group_lr(spec: Spec, group: Group) -> float | None:
    """The lr ``group`` sets: its ``lr``, else ``optimizer.lr * lr_mult``, else None (it
    leaves the lr to earlier matching groups or the optimizer). ResolveError on overflow."""
    if group.lr is not None:
        return group.lr
    if group.lr_mult is not None:
        return checked_product(spec.optimizer.lr, group.lr_mult, "optimizer.lr * lr_mult", f"group {group.name!r}")
    return None


def group_weight_decay(spec: Spec, group: Group) -> float | None:
    """The weight decay ``group`` sets: its ``weight_decay``, else
    ``optimizer.weight_decay * decay_mult``, else None. ResolveError on overflow."""
    if group.weight_decay is not None:
        return group.weight_decay
    if group.decay_mult is not None:
        return checked_product(
            spec.optimizer.weight_decay,
            group.decay_mult,
            "optimizer.weight_decay * decay_mult",
            f"group {group.name!r}",
        )
    return None


@dataclass(frozen=True)
class Rule:
    """What one spec group sets (None: left to earlier groups), precomputed once per resolve."""

    group: Group
    lr: float | None
    weight_decay: float | None
    hyperparameters: dict[str, Any]

    @staticmethod
    def of(spec: Spec, group: Group) -> Rule:
        return Rule(group, group_lr(spec, group), group_weight_decay(spec, group), group.hyperparameters_set())


@dataclass(frozen=True)
class Settings:
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
    freeze_statistics: bool = False
    family: str = ""
    family_setter: str | None = None
    """The group whose ``optimizer`` decided the family (None: the top-level optimizer)."""


def cascade(spec: Spec, rules: Sequence[Rule], gis: Sequence[int], *, check: bool = True) -> Settings:
    """Effective settings of a parameter matched by spec groups ``gis`` (file order), before
    layer decay: each setting from the last matching group that sets it, else the optimizer's
    (or the default schedule).

    The family is one such setting: a group's ``optimizer`` sets the family *and every
    hyperparameter of it* (torch's defaults for those the node does not give, never the
    top-level optimizer's); shortcut keys (``betas``, ``momentum``, ...) of later matching
    groups override single hyperparameters. lr and weight decay do not depend on the family.
    A permanent freeze resets family and hyperparameters to the top-level optimizer's (they
    are never used). With ``check``, a shortcut key the effective family lacks, an ``eps`` of
    the wrong kind for it (adafactor's is a pair) and nesterov without momentum (sgd) raise
    ResolveError.
    """
    opt = spec.optimizer
    family = opt.type
    family_setter: str | None = None
    lr = opt.lr
    wd = opt.weight_decay
    freeze: Any = None
    freeze_statistics: str | None = None  # the last matching group setting freeze_statistics: true
    schedule: Any = spec.schedule
    hyper: dict[str, Any] = {h: getattr(opt, h) for h in FAMILY_HYPERPARAMETERS[family]}
    setters: dict[str, str] = {}
    shortcuts: list[tuple[str, str, Any]] = []  # (group, key, value) of every matching group, file order
    for gi in gis:
        rule = rules[gi]
        g = rule.group
        if rule.lr is not None:
            lr = rule.lr
        if rule.weight_decay is not None:
            wd = rule.weight_decay
        if g.freeze is not None:
            freeze = g.freeze
        if g.freeze_statistics is not None:
            freeze_statistics = g.name if g.freeze_statistics else None
        if g.schedule is not None:
            schedule = g.schedule
        if g.optimizer is not None:
            family, family_setter = g.optimizer.type, g.name
            hyper = {h: getattr(g.optimizer, h) for h in FAMILY_HYPERPARAMETERS[family]}
            setters = dict.fromkeys(hyper, g.name)
        for h, v in rule.hyperparameters.items():
            hyper[h] = v
            setters[h] = g.name
            shortcuts.append((g.name, h, v))
    if not gis and spec.unmatched == "freeze":
        freeze = True
    names = tuple(spec.groups[gi].name for gi in gis)
    if check:
        _check_shortcuts(family, family_setter, shortcuts, names)
    allowed = FAMILY_HYPERPARAMETERS[family]
    if len(hyper) != len(allowed):
        hyper = {h: hyper[h] for h in allowed}  # keys of another family (only with check=False)
    if check and family == "sgd" and hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
        who = ", ".join(sorted({setters.get(h, "optimizer") for h in ("momentum", "dampening", "nesterov")}))
        raise ResolveError(
            f"nesterov needs momentum > 0 and dampening = 0, but parameters matched by groups "
            f"{list(names)} get momentum={hyper['momentum']}, "
            f"dampening={hyper['dampening']} (set by: {who})"
        )
    permanent, until = _freeze_of(freeze)
    if check and freeze_statistics is not None and not permanent:
        raise ResolveError(
            f"group {freeze_statistics!r} sets freeze_statistics: true, but parameters matched by groups "
            f"{list(names)} are not permanently frozen (effective freeze: {_freeze_text(freeze)}); "
            "freeze_statistics needs freeze: true"
        )
    if permanent:
        lr, wd = 0.0, 0.0
        family, family_setter = opt.type, None
        hyper = {h: getattr(opt, h) for h in FAMILY_HYPERPARAMETERS[family]}
        schedule = ConstantSchedule(type="constant")
    key = (
        permanent,
        until,
        float(wd),
        tuple((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in sorted(hyper.items())),
        _schedule_key(schedule),
        freeze_statistics is not None,
        family,
    )
    return Settings(
        tuple(gis),
        names,
        float(lr),
        float(wd),
        hyper,
        schedule,
        permanent,
        until,
        key,
        freeze_statistics is not None,
        family,
        family_setter,
    )


def _check_shortcuts(
    family: str, family_setter: str | None, shortcuts: Sequence[tuple[str, str, Any]], names: tuple[str, ...]
) -> None:
    """ResolveError for a shortcut key the effective family lacks, or an ``eps`` of the wrong
    kind for it (adafactor's is a pair [eps1, eps2], every other family's a number)."""
    allowed = FAMILY_HYPERPARAMETERS[family]
    source = f"group {family_setter!r}" if family_setter else "optimizer"
    for group, h, v in shortcuts:
        if h not in allowed:
            raise ResolveError(
                f"group {group!r} sets {h!r}, but the parameters matched by groups {list(names)} are optimized "
                f"by {family} (set by {source}), which has no {h!r} (it has: {', '.join(allowed)}, plus lr and "
                "weight_decay); narrow the group (params, ndim, modules) or set the key in the family's optimizer"
            )
        if h == "eps" and isinstance(v, tuple) != (family == "adafactor"):
            want = "a pair [eps1 (or null), eps2]" if family == "adafactor" else "a number"
            raise ResolveError(
                f"group {group!r} sets eps = {list(v) if isinstance(v, tuple) else v!r}, but the parameters matched "
                f"by groups {list(names)} are optimized by {family} (set by {source}), whose eps is {want}"
            )


def family_shape_errors(
    bases: Sequence[Settings], match_of_name: npt.NDArray[np.intp], names: Sequence[str], facts: Any
) -> list[str]:
    """Errors for the families restricted to some numbers of dimensions (muon: 2-D,
    :data:`~lrspec.spec.families.FAMILY_NDIMS`) given parameters of another or unknown shape;
    each names the parameters and the group that set the family. Permanently frozen
    parameters are not optimized, so not checked. ``facts``: a
    :class:`~lrspec.resolve.matching.ParamFacts`."""
    restricted = [k for k, b in enumerate(bases) if b.family in FAMILY_NDIMS and not b.frozen]
    errors: list[str] = []
    if not restricted:
        return errors
    ndim = facts.ndim
    for k in restricted:
        b = bases[k]
        allowed = FAMILY_NDIMS[b.family]
        rows = np.flatnonzero((match_of_name == k) & ~np.isin(ndim, np.asarray(allowed, dtype=np.int64)))
        if not len(rows):
            continue
        shown = ", ".join(
            f"{names[r]} ({'shape unknown' if ndim[r] < 0 else f'{int(ndim[r])}-D'})" for r in rows[:8].tolist()
        )
        more = f", ... ({len(rows)} in all)" if len(rows) > 8 else ""
        source = f"group {b.family_setter!r}" if b.family_setter else "the top-level optimizer"
        errors.append(
            f"{b.family} takes only {' or '.join(f'{d}-D' for d in allowed)} parameters, but {source} gives it "
            f"{shown}{more}; narrow the group (e.g. ndim: {allowed[0]}) and let another family take the rest"
        )
    return errors


def _freeze_text(freeze: Any) -> str:
    if isinstance(freeze, FreezeUntil):
        return f"until_step {freeze.until_step}"
    return "none" if freeze is None else str(freeze).lower()


def deciding_groups(rules: Sequence[Rule], gis: tuple[int, ...]) -> tuple[int, ...]:
    """The matched groups (file order) that are the last to set at least one setting."""
    last: dict[str, int] = {}
    for gi in gis:
        rule = rules[gi]
        if rule.lr is not None:
            last["lr"] = gi
        if rule.weight_decay is not None:
            last["weight_decay"] = gi
        if rule.group.freeze is not None:
            last["freeze"] = gi
        if rule.group.freeze_statistics is not None:
            last["freeze_statistics"] = gi
        if rule.group.schedule is not None:
            last["schedule"] = gi
        if rule.group.optimizer is not None:
            last["optimizer"] = gi
        for h in rule.hyperparameters:
            last[h] = gi
    return tuple(sorted(set(last.values())))


def _schedule_key(schedule: Any) -> str:
    return json.dumps(schedule.model_dump(mode="json"), sort_keys=True)
