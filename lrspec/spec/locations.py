"""Locations in a spec: paths such as ``groups[2].schedule.decay_steps`` and their file positions.

A *path* is a tuple of keys and list indices into the raw data (``("groups", 2, "schedule")``);
*positions* map paths to the (line, column) where the loader found them, so that a
:class:`~lrspec.Problem` can say ``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lrspec.errors import Problem

__all__ = ["Path", "Positions", "format_path", "make_problem"]

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
    """The position of ``path``, else of its nearest ancestor with a known position."""
    if not positions:
        return None, None
    for cut in range(len(path), -1, -1):
        pos = positions.get(path[:cut])
        if pos is not None:
            return pos
    return None, None


def make_problem(path: Path, message: str, file: str | None, positions: Positions | None) -> Problem:
    """A :class:`Problem` at ``path``, with its file position when ``positions`` knows it."""
    line, col = _locate(path, positions)
    return Problem(format_path(path), message, file=file, line=line, column=col)
