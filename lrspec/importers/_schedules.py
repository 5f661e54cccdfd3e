"""Schedule nodes for the importers: pieces on the update clock joined into one spec schedule.

Step convention (lrspec's): ``t`` counts the updates already applied; update ``t`` uses
``m(t)``. A :class:`Piece` is an lrspec schedule mapping that holds on ``[start, next start)``
of the global clock and is evaluated at ``t - start`` (a ``sequence`` piece restarts at 0).
:func:`tabulate` writes a staircase (one value per epoch, or per update) as a ``piecewise``
node, run-length compressed: exact wherever the tool's lr is constant between boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lrspec.importers._common import RecipeError

__all__ = ["MAX_TABLE", "Piece", "hold", "join", "tabulate"]

#: The most boundaries a tabulated schedule may have (a spec file is at most 1 MiB).
MAX_TABLE = 20_000


@dataclass(frozen=True)
class Piece:
    """``node`` (a schedule mapping) on the global updates ``[start, next piece's start)``."""

    start: int
    node: dict[str, Any]


def hold(value: float) -> dict[str, Any]:
    """m(t) = value (> 0 as a constant node; 0 as a piecewise node of zeros)."""
    if value > 0:
        return {"type": "constant", "value": float(value)}
    return {"type": "piecewise", "boundaries": [1], "values": [0.0, 0.0]}


def join(pieces: Sequence[Piece]) -> dict[str, Any]:
    """One schedule from pieces sorted by start (the first starting at 0); a piece equal to a
    constant 1 alone is the default schedule."""
    pieces = [p for k, p in enumerate(pieces) if k == len(pieces) - 1 or pieces[k + 1].start > p.start]
    if not pieces or pieces[0].start != 0:
        pieces = [Piece(0, hold(1.0)), *pieces]
    if len(pieces) == 1:
        return pieces[0].node
    return {
        "type": "sequence",
        "schedules": [p.node for p in pieces],
        "boundaries": [p.start for p in pieces[1:]],
    }


def tabulate(values: Sequence[float], unit: int, key: str) -> dict[str, Any]:
    """The staircase m(t) = values[t // unit] (the last value held from then on), as a
    piecewise node with a boundary only where the value changes."""
    bounds: list[int] = []
    vals = [float(values[0])]
    for k in range(1, len(values)):
        if values[k] != vals[-1]:
            bounds.append(k * unit)
            vals.append(float(values[k]))
    if not bounds:
        return hold(vals[0])
    if len(bounds) > MAX_TABLE:
        raise RecipeError(
            key,
            f"cannot import exactly: this schedule changes the lr {len(bounds)} times and lrspec would need a table of "
            f"that many values (at most {MAX_TABLE}); step it per epoch, or use a schedule lrspec expresses directly",
        )
    return {"type": "piecewise", "boundaries": bounds, "values": vals}
