"""Read a parameter list: the names (and optionally shapes) a spec is resolved against.

Two formats, chosen by the suffix:

* text (any suffix but ``.json``): one parameter per line, ``name`` or ``name shape``;
  the shape is comma-separated integers, ``20,1,5,5`` or ``[20, 1, 5, 5]`` or ``(20, 1, 5, 5)``
  (``[]`` or ``()`` is a scalar). ``#`` starts a comment; blank lines are ignored.
* ``.json``: an object mapping name -> shape (a list of integers, or null when unknown),
  or a list of names.

The result maps every name to its shape (``None`` when not given), in file order. Problems
raise :class:`ParamFileError` with ``file:line`` (one problem per line of the message).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from lrspec.errors import LrSpecError

__all__ = ["ParamFileError", "Shape", "parse_param_text", "parse_shape", "read_params"]

Shape = tuple[int, ...]

_SHAPE_RE = re.compile(r"^[\[(]?\s*(?:\d+\s*(?:,\s*\d+\s*)*,?)?\s*[\])]?$")


class ParamFileError(LrSpecError, ValueError):
    """A parameter list cannot be read. ``problems`` holds ``file:line: message`` strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)  # type: ignore[assignment]


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
    problems: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *more = line.split(None, 1)
        rest = more[0].strip() if more else ""
        if name in first_line:
            problems.append(f"{file}:{lineno}: parameter {name!r} is listed twice (first on line {first_line[name]})")
            continue
        first_line[name] = lineno
        shape: Shape | None = None
        if rest:
            try:
                shape = parse_shape(rest)
            except ValueError as exc:
                problems.append(f"{file}:{lineno}: {exc}")
                continue
        out[name] = shape
    if problems:
        raise ParamFileError(problems)
    if not out:
        raise ParamFileError([f"{file}: no parameter names in the file"])
    return out


def _parse_json(text: str, file: str) -> dict[str, Shape | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamFileError([f"{file}:{exc.lineno}: invalid JSON: {exc.msg}"]) from None
    problems: list[str] = []
    out: dict[str, Shape | None] = {}
    if isinstance(data, list):
        for k, name in enumerate(data):
            if not isinstance(name, str) or not name:
                problems.append(f"{file}: [{k}]: expected a parameter name (a non-empty string), got {name!r}")
            elif name in out:
                problems.append(f"{file}: [{k}]: parameter {name!r} is listed twice")
            else:
                out[name] = None
    elif isinstance(data, dict):
        for name, shape in data.items():
            if not name:
                problems.append(f"{file}: an empty parameter name")
            elif shape is None:
                out[name] = None
            elif isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                out[name] = tuple(shape)
            else:
                problems.append(f"{file}: {name!r}: the shape must be a list of non-negative integers or null, got {shape!r}")
    else:
        problems.append(f"{file}: expected an object name -> shape or a list of names, got {type(data).__name__}")
    if problems:
        raise ParamFileError(problems)
    if not out:
        raise ParamFileError([f"{file}: no parameter names in the file"])
    return out


def read_params(path: str | os.PathLike[str]) -> dict[str, Shape | None]:
    """Read a parameter list file (text or ``.json``) into ``{name: shape or None}``."""
    file = str(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamFileError([f"{file}: file not found"]) from None
    except IsADirectoryError:
        raise ParamFileError([f"{file}: is a directory, not a parameter list"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamFileError([f"{file}: cannot read file: {exc}"]) from None
    if p.suffix.lower() == ".json":
        return _parse_json(text, file)
    return parse_param_text(text, file)
