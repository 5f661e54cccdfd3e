"""The parameters to resolve: names (and optionally shapes), checked."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any

from lrspec.errors import ResolveError

__all__ = ["Shape", "normalize_params"]

Shape = tuple[int, ...]


INT64_MAX = 2**63 - 1


def _dim(d: Any) -> int:
    """An integer dimension: ints and integer-like objects (numpy ints, via ``__index__``);
    never a float or bool (``int(2.7)`` would silently truncate)."""
    if isinstance(d, bool):
        raise TypeError("a bool is not a dimension")
    return operator.index(d)


def normalize_params(params: Iterable[str] | Mapping[str, Any]) -> tuple[list[str], list[Shape | None]]:
    """Names (and shapes, if a mapping name -> shape was given), validated.

    Raises ResolveError for a string instead of an iterable, a name that is not a non-empty
    string without newlines, a name listed twice, or a shape that is not a sequence of ints
    (floats and bools are refused, never truncated; dimensions fit in int64).
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
            dims = tuple(_dim(d) for d in shape)
        except (TypeError, ValueError):
            raise ResolveError(
                f"invalid shape for {name!r}: {shape!r} (a shape is a sequence of integers; 2.7 or True is not one)"
            ) from None
        if any(d > INT64_MAX for d in dims):
            raise ResolveError(f"invalid shape for {name!r}: {shape!r} (a dimension beyond int64)")
        if any(d < 0 for d in dims):
            raise ResolveError(f"invalid shape for {name!r}: {shape!r} (negative dimension)")
        shapes.append(dims)
    return names, shapes
