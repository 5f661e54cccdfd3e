"""Read a parameter list: the names (and optionally shapes) a spec is resolved against.

Two formats, chosen by the suffix:

* text (any suffix but ``.json``): one parameter per line, ``name`` or ``name shape``;
  the shape is comma-separated integers, ``20,1,5,5`` or ``[20, 1, 5, 5]`` or ``(20, 1, 5, 5)``
  (``[]`` or ``()`` is a scalar). ``#`` starts a comment; blank lines are ignored.
* ``.json``: an object mapping name -> shape (a list of integers, or null when unknown),
  or a list of names.

The result maps every name to its shape (``None`` when not given), in file order. Problems
raise :class:`lrspec.errors.ParamFileError`, one :class:`~lrspec.errors.Problem` per problem
with the file and, where known, the line (``render()``: ``file:line: message``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from lrspec.errors import ParamFileError, Problem

__all__ = ["ParamFileError", "Shape", "parse_param_text", "parse_shape", "read_params"]

Shape = tuple[int, ...]

_SHAPE_RE = re.compile(r"^[\[(]?\s*(?:\d+\s*(?:,\s*\d+\s*)*,?)?\s*[\])]?$")


def parse_shape(text: str) -> Shape:
    """``"20,1,5,5"``, ``"[20, 1, 5, 5]"`` or ``"(20,)"`` -> ``(20, 1, 5, 5)``; ``"[]"`` -> ``()``.

    Raises ``ValueError`` for anything else (negative or non-integer dimensions, stray text).
    """
    s = text.strip()
    if not _SHAPE_RE.match(s) or (s[:1] in "[(") != (s[-1:] in "])"):
        raise ValueError(f"invalid shape {text!r}: expected comma-separated integers like 20,1,5,5 or [20, 1, 5, 5]")
    inner = s.strip("[]()").strip()
    if not inner:
        return ()
    return tuple(int(d) for d in inner.rstrip(",").split(","))


def parse_param_text(text: str, file: str = "<params>") -> dict[str, Shape | None]:
    """Parse the text format (see the module docstring); ``file`` is used in messages."""
    out: dict[str, Shape | None] = {}
    first_line: dict[str, int] = {}
    problems: list[Problem] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *more = line.split(None, 1)
        rest = more[0].strip() if more else ""
        if name in first_line:
            problems.append(
                Problem("", f"parameter {name!r} is listed twice (first on line {first_line[name]})", file=file, line=lineno)
            )
            continue
        first_line[name] = lineno
        shape: Shape | None = None
        if rest:
            try:
                shape = parse_shape(rest)
            except ValueError as exc:
                problems.append(Problem("", str(exc), file=file, line=lineno))
                continue
        out[name] = shape
    if problems:
        raise ParamFileError(problems)
    if not out:
        raise ParamFileError(Problem("", "no parameter names in the file", file=file))
    return out


def _parse_json(text: str, file: str) -> dict[str, Shape | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamFileError(Problem("", f"invalid JSON: {exc.msg}", file=file, line=exc.lineno)) from None
    problems: list[Problem] = []
    out: dict[str, Shape | None] = {}
    if isinstance(data, list):
        for k, name in enumerate(data):
            if not isinstance(name, str) or not name:
                problems.append(Problem(f"[{k}]", f"expected a parameter name (a non-empty string), got {name!r}", file=file))
            elif name in out:
                problems.append(Problem(f"[{k}]", f"parameter {name!r} is listed twice", file=file))
            else:
                out[name] = None
    elif isinstance(data, dict):
        for name, shape in data.items():
            if not name:
                problems.append(Problem("", "an empty parameter name", file=file))
            elif shape is None:
                out[name] = None
            elif isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                out[name] = tuple(shape)
            else:
                problems.append(
                    Problem(repr(name), f"the shape must be a list of non-negative integers or null, got {shape!r}", file=file)
                )
    else:
        problems.append(Problem("", f"expected an object name -> shape or a list of names, got {type(data).__name__}", file=file))
    if problems:
        raise ParamFileError(problems)
    if not out:
        raise ParamFileError(Problem("", "no parameter names in the file", file=file))
    return out


def read_params(path: str | os.PathLike[str]) -> dict[str, Shape | None]:
    """Read a parameter list file (text or ``.json``) into ``{name: shape or None}``."""
    file = str(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamFileError(Problem("", "file not found", file=file)) from None
    except IsADirectoryError:
        raise ParamFileError(Problem("", "is a directory, not a parameter list", file=file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamFileError(Problem("", f"cannot read file: {exc}", file=file)) from None
    if p.suffix.lower() == ".json":
        return _parse_json(text, file)
    return parse_param_text(text, file)
