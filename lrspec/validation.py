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
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from lrspec.errors import Problem, SpecError
from lrspec.patterns import PatternError, compile_pattern
from lrspec.spec import FAMILY_HYPERPARAMETERS, Spec

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


def _data_path(data: Any, loc: Sequence[str | int]) -> Path:
    """Keep the loc elements that are real keys/indices of ``data``; drop union tags."""
    out: list[str | int] = []
    cur: Any = data
    for part in loc:
        if isinstance(part, int) and isinstance(cur, list) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif isinstance(part, str) and isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(part, str) and isinstance(cur, dict):
            # a missing key, or a union tag: a tag names a type, not a key
            if part in _all_field_names():
                out.append(part)
                cur = None
        else:
            cur = None
    return tuple(out)


_FIELD_NAMES: set[str] | None = None


def _all_field_names() -> set[str]:
    global _FIELD_NAMES
    if _FIELD_NAMES is None:
        names: set[str] = set()
        for model in _iter_models(Spec, set()):
            names.update(model.model_fields)
        _FIELD_NAMES = names
    return _FIELD_NAMES


def _iter_models(tp: Any, seen: set[Any]) -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []
    for model in _models_in(tp):
        if model in seen:
            continue
        seen.add(model)
        out.append(model)
        for field in model.model_fields.values():
            out += _iter_models(field.annotation, seen)
    return out


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(tp):
        out += _models_in(arg)
    return out


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The spec model class at pydantic location ``loc`` (which includes union tags)."""
    current: Any = Spec
    for part in loc:
        current = _strip(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        if origin in (list, tuple) and isinstance(part, int):
            current = typing.get_args(current)[0]
            continue
        if origin in (Union, types.UnionType):
            chosen = None
            for member in typing.get_args(current):
                for model in _models_in(member):
                    type_field = model.model_fields.get("type")
                    tags = typing.get_args(type_field.annotation) if type_field else ()
                    if part in tags or part == model.__name__:
                        chosen = model
            if part == "until":
                from lrspec.spec import FreezeUntil

                chosen = FreezeUntil
            if chosen is None:
                return None
            current = chosen
            continue
        return None
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _strip(tp: Any) -> Any:
    """Unwrap Annotated and Optional[X] to X."""
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
                tp = Union[tuple(args)]  # noqa: UP007
                continue
        return tp


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


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    loc = err["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = _suggest(key, allowed)
        tail = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {key!r}{hint}{tail}"
    if kind == "missing":
        return f"missing required key {str(loc[-1])!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        what = "optimizer type" if "optimizer" in loc and "schedules" not in loc else "schedule type"
        tags = [t.strip().strip("'\"") for t in str(ctx.get("expected_tags", "")).split(",")]
        tags = [t for t in tags if t]
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
        path = _data_path(data, err["loc"])
        message = _message(err)
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
            out.append((path + (k,), f"{what} must be strictly increasing ({values[k - 1]} then {values[k]})"))
            return


def _schedule_problems(schedule: Any, path: Path, out: list[tuple[Path, str]]) -> None:
    if not isinstance(schedule, dict):
        return
    kind = schedule.get("type")
    if kind == "multistep":
        _check_increasing(schedule.get("milestones"), path + ("milestones",), "milestones", out)
    elif kind == "piecewise":
        bounds, values = schedule.get("boundaries"), schedule.get("values")
        _check_increasing(bounds, path + ("boundaries",), "boundaries", out)
        if isinstance(bounds, list) and isinstance(values, list) and len(values) != len(bounds) + 1:
            out.append(
                (
                    path + ("values",),
                    f"needs {len(bounds) + 1} values for {len(bounds)} boundaries (got {len(values)})",
                )
            )
    elif kind == "sequence":
        bounds, pieces = schedule.get("boundaries"), schedule.get("schedules")
        _check_increasing(bounds, path + ("boundaries",), "boundaries", out)
        if isinstance(bounds, list) and isinstance(pieces, list) and pieces and len(bounds) != len(pieces) - 1:
            out.append(
                (
                    path + ("boundaries",),
                    f"needs {len(pieces) - 1} boundaries for {len(pieces)} schedules (got {len(bounds)})",
                )
            )
        if isinstance(pieces, list):
            for k, sub in enumerate(pieces):
                _schedule_problems(sub, path + ("schedules", k), out)
    elif kind == "warmup":
        _schedule_problems(schedule.get("then"), path + ("then",), out)


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
                out.append((base + ("name",), f"duplicate group name {name!r} (first used by groups[{seen[name]}])"))
            else:
                seen[name] = k
        if group.get("lr") is not None and group.get("lr_mult") is not None:
            out.append((base + ("lr_mult",), "set either lr or lr_mult, not both"))
        if group.get("weight_decay") is not None and group.get("decay_mult") is not None:
            out.append((base + ("decay_mult",), "set either weight_decay or decay_mult, not both"))
        if allowed is not None:
            for hyper in all_hypers:
                if group.get(hyper) is not None and hyper not in allowed:
                    out.append(
                        (
                            base + (hyper,),
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
                    out.append((base + ("params", j), str(exc)))
        _schedule_problems(group.get("schedule"), base + ("schedule",), out)
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
