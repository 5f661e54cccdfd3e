"""Semantic checks: what the spec's JSON Schema cannot express.

A ``version`` that only equals 1 (``true``, ``1.0``), duplicate group names, ``lr`` with ``lr_mult`` (and ``weight_decay`` with ``decay_mult``),
hyperparameters of another optimizer family, patterns that do not compile, boundaries and
milestones that are not strictly increasing, list lengths that must agree, nesterov without
momentum. The checks read the *raw* data (defensively: any part may be missing or of the
wrong type), so that they are reported together with the schema's problems in one
:class:`~lrspec.SpecError`. :class:`lrspec.spec.models.Spec` runs them on every construction.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from lrspec.spec.families import ALL_HYPERPARAMETERS, FAMILY_HYPERPARAMETERS
from lrspec.spec.groups import MODULE_ROLES
from lrspec.spec.locations import Path
from lrspec.spec.patterns import PatternError, compile_pattern

__all__ = ["semantic_problems"]


def _check_increasing(values: Any, path: Path, what: str, out: list[tuple[Path, str]]) -> None:
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
        return
    for k in range(1, len(values)):
        if values[k] <= values[k - 1]:
            out.append(((*path, k), f"{what} must be strictly increasing ({values[k - 1]} then {values[k]})"))
            return


def _schedule_problems(schedule: Any, path: Path, out: list[tuple[Path, str]]) -> None:
    if not isinstance(schedule, dict):
        return
    kind = schedule.get("type")
    if kind == "multistep":
        _check_increasing(schedule.get("milestones"), (*path, "milestones"), "milestones", out)
    elif kind == "piecewise":
        bounds, values = schedule.get("boundaries"), schedule.get("values")
        _check_increasing(bounds, (*path, "boundaries"), "boundaries", out)
        if isinstance(bounds, list) and isinstance(values, list) and len(values) != len(bounds) + 1:
            out.append(
                (
                    (*path, "values"),
                    f"needs {len(bounds) + 1} values for {len(bounds)} boundaries (got {len(values)})",
                )
            )
    elif kind == "sequence":
        bounds, pieces = schedule.get("boundaries"), schedule.get("schedules")
        _check_increasing(bounds, (*path, "boundaries"), "boundaries", out)
        if isinstance(bounds, list) and isinstance(pieces, list) and pieces and len(bounds) != len(pieces) - 1:
            out.append(
                (
                    (*path, "boundaries"),
                    f"needs {len(pieces) - 1} boundaries for {len(pieces)} schedules (got {len(bounds)})",
                )
            )
        if isinstance(pieces, list):
            for k, sub in enumerate(pieces):
                _schedule_problems(sub, (*path, "schedules", k), out)
    elif kind == "warmup":
        _schedule_problems(schedule.get("then"), (*path, "then"), out)


def _is_num(value: Any) -> bool:
    """A number (not a bool) that converts to a float64."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def semantic_problems(data: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """Problems a schema cannot express, each as (path, message).

    Works on the raw data (defensively), so these are reported together with the schema's
    problems in one error.
    """
    out: list[tuple[Path, str]] = []
    version = data.get("version")
    if isinstance(version, (bool, float)) and version == 1:
        out.append((("version",), f"must be the integer 1 (got {version!r})"))
    opt = data.get("optimizer")
    family = opt.get("type") if isinstance(opt, dict) else None
    _nesterov_problems(opt, ("optimizer",), out)
    _schedule_problems(data.get("schedule"), ("schedule",), out)
    groups = data.get("groups")
    families = _reachable_families(family, groups)
    seen: dict[str, int] = {}
    for k, group in enumerate(groups if isinstance(groups, list) else []):
        if not isinstance(group, dict):
            continue
        base: Path = ("groups", k)
        name = group.get("name")
        if isinstance(name, str):
            if name in seen:
                out.append(((*base, "name"), f"duplicate group name {name!r} (first used by groups[{seen[name]}])"))
            else:
                seen[name] = k
        for mult, base_key in (("lr_mult", "lr"), ("decay_mult", "weight_decay")):
            factor, base_value = group.get(mult), opt.get(base_key) if isinstance(opt, dict) else None
            if _is_num(factor) and _is_num(base_value):
                f, b = float(factor), float(base_value)  # type: ignore[arg-type]
                if not (math.isfinite(f) and math.isfinite(b)):
                    continue
                product = b * f
                if not math.isfinite(product) or (product == 0 and base_value != 0 and factor != 0):
                    kind = "overflows to inf" if not math.isfinite(product) else "underflows to 0"
                    out.append(((*base, mult), f"optimizer.{base_key} * {mult} = {base_value!r} * {factor!r} {kind}"))
        if group.get("lr") is not None and group.get("lr_mult") is not None:
            out.append(((*base, "lr_mult"), "set either lr or lr_mult, not both"))
        if group.get("weight_decay") is not None and group.get("decay_mult") is not None:
            out.append(((*base, "decay_mult"), "set either weight_decay or decay_mult, not both"))
        _nesterov_problems(group.get("optimizer"), (*base, "optimizer"), out)
        _group_optimizer_problems(group.get("optimizer"), (*base, "optimizer"), out)
        if families is not None:
            _shortcut_problems(group, base, families, out)
        _module_problems(group.get("modules"), (*base, "modules"), out)
        params = group.get("params")
        for j, source in enumerate(params if isinstance(params, list) else []):
            if isinstance(source, str) and source:
                try:
                    compile_pattern(source)
                except PatternError as exc:
                    out.append(((*base, "params", j), str(exc)))
        _schedule_problems(group.get("schedule"), (*base, "schedule"), out)
    _layer_problems(data.get("layer_decay"), out)
    return out


def _nesterov_problems(opt: Any, path: Path, out: list[tuple[Path, str]]) -> None:
    """sgd's nesterov without momentum > 0 and dampening = 0 (top-level or a group's optimizer)."""
    if isinstance(opt, dict) and opt.get("type") == "sgd" and opt.get("nesterov") is True:
        momentum, dampening = _num(opt.get("momentum"), 0.0), _num(opt.get("dampening"), 0.0)
        if momentum <= 0 or dampening != 0:
            out.append(
                (
                    (*path, "nesterov"),
                    f"nesterov needs momentum > 0 and dampening = 0 (got momentum={momentum:g}, dampening={dampening:g})",
                )
            )


def _group_optimizer_problems(node: Any, path: Path, out: list[tuple[Path, str]]) -> None:
    """A group's ``optimizer`` gives a family and its hyperparameters, never lr or weight decay."""
    if not isinstance(node, dict):
        return
    for key, keys in (("lr", "lr or lr_mult"), ("weight_decay", "weight_decay or decay_mult")):
        if key in node:
            out.append(
                (
                    (*path, key),
                    f"{key!r} is not set inside a group's optimizer: the group's {key} comes from its own keys "
                    f"{keys} (next to 'optimizer'), else from the top-level optimizer",
                )
            )


def _reachable_families(family: Any, groups: Any) -> list[str] | None:
    """The families some parameter can get: the top-level one and every group's ``optimizer``
    type (None when the top-level family is unknown: its own error is reported)."""
    if not isinstance(family, str) or family not in FAMILY_HYPERPARAMETERS:
        return None
    out = [family]
    for group in groups if isinstance(groups, list) else []:
        node = group.get("optimizer") if isinstance(group, dict) else None
        kind = node.get("type") if isinstance(node, dict) else None
        if isinstance(kind, str) and kind in FAMILY_HYPERPARAMETERS and kind not in out:
            out.append(kind)
    return out


def _shortcut_problems(group: dict[str, Any], base: Path, families: list[str], out: list[tuple[Path, str]]) -> None:
    """Shortcut keys no reachable family has, and an eps of a kind no reachable family takes.
    (Which family each parameter gets is known at resolve time, where the keys are checked
    again per parameter.)"""
    node = group.get("optimizer")
    own = node.get("type") if isinstance(node, dict) else None
    if isinstance(own, str) and own in FAMILY_HYPERPARAMETERS:
        families = [own]  # the group's own family decides for every parameter it matches
    which = " or ".join(families)
    for hyper in ALL_HYPERPARAMETERS:
        if group.get(hyper) is None:
            continue
        having = [f for f in families if hyper in FAMILY_HYPERPARAMETERS[f]]
        if not having:
            keys = sorted({k for f in families for k in FAMILY_HYPERPARAMETERS[f]})
            out.append(
                (
                    (*base, hyper),
                    f"{hyper!r} is not a hyperparameter of {which} "
                    f"(it has: {', '.join(keys if len(families) > 1 else FAMILY_HYPERPARAMETERS[families[0]])}, "
                    "plus lr and weight_decay)",
                )
            )
        elif hyper == "eps" and isinstance(group.get("eps"), list) and "adafactor" not in having:
            out.append(
                (
                    (*base, "eps"),
                    f"eps is a number for {' and '.join(having)}; only adafactor's eps is a pair [eps1, eps2]",
                )
            )
        elif hyper == "eps" and _is_num(group.get("eps")) and having == ["adafactor"]:
            out.append(((*base, "eps"), "adafactor's eps is a pair [eps1 (or null), eps2], not a number"))


def _module_problems(selectors: Any, path: Path, out: list[tuple[Path, str]]) -> None:
    """``modules`` entries: a role of MODULE_ROLES or ``class:<Name>``."""
    for j, entry in enumerate(selectors if isinstance(selectors, list) else []):
        if not isinstance(entry, str) or not entry:
            continue
        if entry.startswith("class:"):
            if not entry[len("class:") :].strip() or entry != entry.strip():
                out.append(((*path, j), f"{entry!r}: write class:<ClassName>, e.g. class:BatchNorm2d"))
        elif entry not in MODULE_ROLES:
            close = difflib.get_close_matches(entry, MODULE_ROLES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(
                (
                    (*path, j),
                    f"unknown module role {entry!r}{hint}; the roles are: {', '.join(MODULE_ROLES)}, "
                    "or class:<ClassName> for a framework class",
                )
            )


def _layer_problems(layer_decay: Any, out: list[tuple[Path, str]]) -> None:
    """Layer-decay entries: patterns compile; ``{i}`` only alone in its entry (it expands to
    several layers) and never with ``join``; the first entry has no previous layer to join."""
    layers = layer_decay.get("layers") if isinstance(layer_decay, dict) else None
    for j, entry in enumerate(layers if isinstance(layers, list) else []):
        path: Path = ("layer_decay", "layers", j)
        if isinstance(entry, str):
            sources, ppath, join = [entry], [path], False
        elif isinstance(entry, list):
            sources, ppath, join = entry, [(*path, k) for k in range(len(entry))], False
        elif isinstance(entry, dict) and isinstance(entry.get("params"), list):
            sources = entry["params"]
            ppath = [(*path, "params", k) for k in range(len(sources))]
            join = entry.get("join") == "previous"
            if join and j == 0:
                out.append(((*path, "join"), "the first layer entry has no previous layer to join"))
        else:
            continue
        for source, where in zip(sources, ppath):
            if not isinstance(source, str) or not source:
                continue
            try:
                pattern = compile_pattern(source, allow_index=True)
            except PatternError as exc:
                out.append((where, str(exc)))
                continue
            if pattern.has_index and (join or len(sources) > 1):
                why = "cannot join a layer" if join else "cannot share an entry with other patterns"
                out.append(
                    (
                        where,
                        f"{source!r}: a '{{i}}' pattern expands to one layer per index, so it {why}; give it an entry of its own",
                    )
                )
