"""Turn raw spec data into a :class:`~lrspec.spec.Spec`, or a :class:`~lrspec.SpecError`
that lists every problem with a user-facing location.

Two passes: pydantic validates types, ranges and keys; then :func:`semantic_problems` checks
what a schema cannot express (duplicate group names, ``lr`` with ``lr_mult``, hyperparameters
of another optimizer family, regexes that do not compile, unsorted boundaries, ...).
Locations are paths like ``groups[2].schedule.decay_steps``: pydantic's union tags are
dropped, and positions (file:line:col) are attached when the loader supplies them.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from lrspec.errors import Problem, SpecError
from lrspec.spec.models import FAMILY_HYPERPARAMETERS, FreezeUntil, Spec
from lrspec.spec.patterns import PatternError, compile_pattern

Path = tuple[str | int, ...]
Positions = Mapping[Path, tuple[int, int]]


def format_path(path: Sequence[str | int]) -> str:
    """``("groups", 2, "schedule")`` -> ``"groups[2].schedule"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _locate(path: Path, positions: Positions | None) -> tuple[int | None, int | None]:
    if not positions:
        return None, None
    for cut in range(len(path), -1, -1):
        pos = positions.get(path[:cut])
        if pos is not None:
            return pos
    return None, None


def make_problem(path: Path, message: str, file: str | None, positions: Positions | None) -> Problem:
    line, col = _locate(path, positions)
    return Problem(format_path(path), message, file=file, line=line, column=col)


# ------------------------------------------------------------------ pydantic error mapping


@dataclass
class _Walk:
    """Where a pydantic error location points in the spec.

    ``path``: the user-facing path (union tags dropped); ``model``: the spec model at the
    end of the location, if any; ``union``: the members of the tagged union at the end of
    the location, if the location ends on one (e.g. a schedule whose ``type`` is bad).
    """

    path: Path
    model: type[BaseModel] | None
    union: tuple[type[BaseModel], ...]


def _strip(tp: Any) -> Any:
    """Unwrap ``Annotated[X, ...]`` and ``Optional[X]`` to ``X`` (repeatedly)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
            if len(args) < len(typing.get_args(tp)):
                tp = Union[tuple(args)]
                continue
        return tp


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The spec models a (possibly annotated / union) type can hold."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    out: list[type[BaseModel]] = []
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            out += _models_in(arg)
    return out


def _tags_of(model: type[BaseModel]) -> tuple[str, ...]:
    type_field = model.model_fields.get("type")
    if type_field is None:
        return ()
    return tuple(str(a) for a in typing.get_args(type_field.annotation))


def _walk(loc: Sequence[str | int]) -> _Walk:
    """Follow a pydantic location through the spec's types, dropping union tags
    (``("schedule", "sequence", "schedules", 0, "step", "gamma")`` ->
    ``("schedule", "schedules", 0, "gamma")``)."""
    path: list[str | int] = []
    current: Any = Spec
    for part in loc:
        if current is None:  # below an unknown key: keep the rest verbatim
            path.append(part)
            continue
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            path.append(part)
            field = current.model_fields.get(str(part))
            current = field.annotation if field is not None else None
            continue
        origin = typing.get_origin(current)
        if origin is list and isinstance(part, int):
            path.append(part)
            current = typing.get_args(current)[0]
            continue
        if origin is tuple and isinstance(part, int):
            path.append(part)
            args = typing.get_args(current)
            current = args[part] if part < len(args) else None
            continue
        if origin in (Union, types.UnionType):
            # a union tag: it names a member, it is not a key of the data
            chosen: Any = None
            for member in typing.get_args(current):
                for model in _models_in(member):
                    if part in _tags_of(model) or (part == "until" and model is FreezeUntil):
                        chosen = model
            current = chosen
            if chosen is None and part not in ("bool",):
                path.append(part)
            continue
        path.append(part)
        current = None
    end = _strip(current) if current is not None else None
    end_model: type[BaseModel] | None = end if isinstance(end, type) and issubclass(end, BaseModel) else None
    union: tuple[type[BaseModel], ...] = ()
    if end is not None and typing.get_origin(end) in (Union, types.UnionType):
        union = tuple(m for m in _models_in(end) if _tags_of(m))
    return _Walk(tuple(path), end_model, union)


_OPTIMIZER_MODELS: tuple[type[BaseModel], ...] = tuple(
    _models_in(typing.get_type_hints(Spec, include_extras=True)["optimizer"])
)
_ALL_HYPERPARAMETERS = frozenset(h for names in FAMILY_HYPERPARAMETERS.values() for h in names)


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TYPE_WORDS = {
    "float_type": "a number",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _message(err: Mapping[str, Any], walk: _Walk) -> str:
    """A plain-English message for one pydantic error at the (already cleaned) ``walk``."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    loc = err["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = _walk(loc[:-1])
        model = parent.model
        allowed = sorted(model.model_fields) if model else []
        family = _tags_of(model)[0] if model is not None and model in _OPTIMIZER_MODELS else None
        if family is not None and key in _ALL_HYPERPARAMETERS:
            return (
                f"{key!r} is not a hyperparameter of {family} "
                f"(it has: {', '.join(FAMILY_HYPERPARAMETERS[family])}, plus lr and weight_decay)"
            )
        hint = _suggest(key, allowed)
        tail = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {key!r}{hint}{tail}"
    if kind == "missing":
        if isinstance(loc[-1], int):
            return f"too few items (item [{loc[-1]}] is missing)"
        return f"missing required key {str(loc[-1])!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        is_optimizer = any(m in _OPTIMIZER_MODELS for m in walk.union)
        what = "optimizer type" if is_optimizer else "schedule type"
        tags = [t for m in walk.union for t in _tags_of(m)]
        if not tags:
            tags = [t.strip().strip("'\"") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        if kind == "union_tag_not_found":
            return f"missing key 'type' (the {what}: one of {', '.join(tags)})"
        tag = str(ctx.get("tag", ""))
        return f"unknown {what} {tag!r}{_suggest(tag, tags)}; expected one of {', '.join(tags)}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {_type_name(value)}"
    if kind == "greater_than":
        return f"must be > {ctx['gt']} (got {value!r})"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']} (got {value!r})"
    if kind == "less_than":
        return f"must be < {ctx['lt']} (got {value!r})"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']} (got {value!r})"
    if kind == "finite_number":
        return f"must be a finite number (got {value!r})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')} (got {value!r})"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s) (got {ctx.get('actual_length')})"
    if kind == "string_pattern_mismatch":
        return f"invalid name {value!r}: use letters, digits, '_', '.', '-', starting with a letter or '_'"
    msg = str(err.get("msg", "invalid value"))
    return msg[:1].lower() + msg[1:]


def _pydantic_problems(
    exc: ValidationError, data: Any, file: str | None, positions: Positions | None
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        walk = _walk(err["loc"])
        path = walk.path
        if err["type"] == "missing" and path and isinstance(path[-1], int):
            path = path[:-1]  # a fixed-length list that is too short: point at the list
        if err["type"] == "union_tag_invalid":
            path = (*path, "type")  # point at the bad type itself
        message = _message(err, walk)
        key = (format_path(path), message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(make_problem(path, message, file, positions))
    return problems


# ------------------------------------------------------------------ semantic checks


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


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def semantic_problems(data: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """Problems a schema cannot express, each as (path, message).

    Works on the raw data (defensively), so these are reported together with the schema's
    problems in one error.
    """
    out: list[tuple[Path, str]] = []
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
    all_hypers = sorted({n for names in FAMILY_HYPERPARAMETERS.values() for n in names})
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
        if group.get("lr") is not None and group.get("lr_mult") is not None:
            out.append(((*base, "lr_mult"), "set either lr or lr_mult, not both"))
        if group.get("weight_decay") is not None and group.get("decay_mult") is not None:
            out.append(((*base, "decay_mult"), "set either weight_decay or decay_mult, not both"))
        if allowed is not None:
            for hyper in all_hypers:
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


def validate_spec_data(
    data: Any, *, file: str | None = None, positions: Positions | None = None
) -> Spec:
    """Validate raw data (from JSON/YAML or Python) into a Spec, or raise SpecError."""
    if isinstance(data, Spec):
        data = data.model_dump(mode="python", exclude_unset=True)
    if not isinstance(data, dict):
        raise SpecError(
            [make_problem((), f"a spec must be a mapping with keys version, optimizer, ...; got {_type_name(data)}", file, positions)],
            file=file,
        )
    problems: list[Problem] = []
    spec: Spec | None = None
    try:
        spec = Spec._pydantic_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, data, file, positions)
    reported = {(p.location, p.message) for p in problems}
    for path, message in semantic_problems(data):
        if (format_path(path), message) not in reported:
            problems.append(make_problem(path, message, file, positions))
    if problems or spec is None:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise SpecError(problems, file=file)
    return spec
