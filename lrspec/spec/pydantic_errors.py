"""Pydantic's ``ValidationError`` as located :class:`~lrspec.Problem`\\ s in plain English.

Pydantic reports locations such as ``("schedule", "sequence", "schedules", 0, "step", "gamma")``;
the user-facing path drops the union tags (``schedule.schedules[0].gamma``). The walk follows a
location through the types of a *root* model (the :class:`~lrspec.spec.models.Spec`, passed in,
so this module does not depend on the models) and the messages name what was expected
(``expected a number, got the string '0.1'``, ``unknown key 'lr_mul' (did you mean 'lr_mult'?)``).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Union

from pydantic import BaseModel, Tag, ValidationError

from lrspec.errors import Problem
from lrspec.spec.families import ALL_HYPERPARAMETERS, FAMILY_HYPERPARAMETERS
from lrspec.spec.locations import Path, Positions, format_path, make_problem

__all__ = ["pydantic_problems", "type_name"]


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


def _member_tags(member: Any) -> tuple[str, ...]:
    """The ``Tag(...)`` names an ``Annotated`` union member carries (callable discriminators)."""
    if typing.get_origin(member) is not typing.Annotated:
        return ()
    return tuple(str(m.tag) for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag))


def _walk(root: type[BaseModel], loc: Sequence[str | int]) -> _Walk:
    """Follow a pydantic location through the spec's types, dropping union tags
    (``("schedule", "sequence", "schedules", 0, "step", "gamma")`` ->
    ``("schedule", "schedules", 0, "gamma")``)."""
    path: list[str | int] = []
    current: Any = root
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
            is_tag = False
            for member in typing.get_args(current):
                tagged = part in _member_tags(member)
                is_tag = is_tag or tagged
                for model in _models_in(member):
                    if tagged or part in _tags_of(model):
                        chosen = model
            current = chosen
            if chosen is None and not is_tag:
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


@cache
def _optimizer_models(root: type[BaseModel]) -> tuple[type[BaseModel], ...]:
    """The models of the root's ``optimizer`` field (one per family)."""
    hints = typing.get_type_hints(root, include_extras=True)
    return tuple(_models_in(hints["optimizer"])) if "optimizer" in hints else ()


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


def type_name(value: Any) -> str:
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


def _message(root: type[BaseModel], err: Mapping[str, Any], walk: _Walk) -> str:
    """A plain-English message for one pydantic error at the (already cleaned) ``walk``."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    loc = err["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = _walk(root, loc[:-1])
        model = parent.model
        allowed = sorted(model.model_fields) if model else []
        family = _tags_of(model)[0] if model is not None and model in _optimizer_models(root) else None
        if family is not None and key in ALL_HYPERPARAMETERS:
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
        is_optimizer = any(m in _optimizer_models(root) for m in walk.union)
        what = "optimizer type" if is_optimizer else "schedule type"
        tags = [t for m in walk.union for t in _tags_of(m)]
        if not tags:
            tags = [t.strip().strip("'\"") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        if kind == "union_tag_not_found":
            return f"missing key 'type' (the {what}: one of {', '.join(tags)})"
        tag = str(ctx.get("tag", ""))
        return f"unknown {what} {tag!r}{_suggest(tag, tags)}; expected one of {', '.join(tags)}"
    if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
        return f"the integer is too large to be a number ({len(str(value))} digits; floats go up to about 1.8e308)"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {type_name(value)}"
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


def pydantic_problems(
    root: type[BaseModel], exc: ValidationError, file: str | None = None, positions: Positions | None = None
) -> list[Problem]:
    """One located Problem per distinct (location, message) of ``exc``, a ValidationError of ``root``."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        walk = _walk(root, err["loc"])
        path = walk.path
        if err["type"] == "missing" and path and isinstance(path[-1], int):
            path = path[:-1]  # a fixed-length list that is too short: point at the list
        if err["type"] == "union_tag_invalid":
            path = (*path, "type")  # point at the bad type itself
        message = _message(root, err, walk)
        key = (format_path(path), message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(make_problem(path, message, file, positions))
    return problems
