"""Semantic checks: what the spec's JSON Schema cannot express.

A ``version`` that only equals 1 (``true``, ``1.0``), duplicate group names, ``lr`` with ``lr_mult`` (and ``weight_decay`` with ``decay_mult``),
hyperparameters of another optimizer family, patterns that do not compile, boundaries and
milestones that are not strictly increasing, list lengths that must agree, nesterov without
momentum. The checks read the *raw* data (defensively: any part may be missing or of the
wrong type), so that they are reported together with the schema's problems in one
:class:`~lrspec.SpecError`. :class:`lrspec.spec.models.Spec` runs them on every construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrspec.spec.families import ALL_HYPERPARAMETERS, FAMILY_HYPERPARAMETERS
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
    if isinstance(opt, dict) and family == "sgd" and opt.get("nesterov") is True:
        momentum, dampening = _num(opt.get("momentum"), 0.0), _num(opt.get("dampening"), 0.0)
        if momentum <= 0 or dampening != 0:
            out.append(
                (
                    ("optimizer", "nesterov"),
                    f"nesterov needs momentum > 0 and dampening = 0 (got momentum={momentum:g}, dampening={dampening:g})",
                )
            )
    _schedule_problems(data.get("schedule"), ("schedule",), out)
    allowed = FAMILY_HYPERPARAMETERS.get(family) if isinstance(family, str) else None
    groups = data.get("groups")
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
        if allowed is not None:
            for hyper in ALL_HYPERPARAMETERS:
                if group.get(hyper) is not None and hyper not in allowed:
                    out.append(
                        (
                            (*base, hyper),
                            f"{hyper!r} is not a hyperparameter of {family} "
                            f"(it has: {', '.join(allowed)}, plus lr and weight_decay)",
                        )
                    )
        params = group.get("params")
        for j, source in enumerate(params if isinstance(params, list) else []):
            if isinstance(source, str) and source:
                try:
                    compile_pattern(source)
                except PatternError as exc:
                    out.append(((*base, "params", j), str(exc)))
        _schedule_problems(group.get("schedule"), (*base, "schedule"), out)
    layer_decay = data.get("layer_decay")
    layers = layer_decay.get("layers") if isinstance(layer_decay, dict) else None
    for j, source in enumerate(layers if isinstance(layers, list) else []):
        if isinstance(source, str) and source:
            try:
                compile_pattern(source, allow_index=True)
            except PatternError as exc:
                out.append((("layer_decay", "layers", j), str(exc)))
    return out
