"""Read a parameter list: the names (and optionally shapes) a spec is resolved against.

Two formats, chosen by the suffix:

* text (any suffix but ``.json``): one parameter per line, ``name`` or ``name shape``;
  the shape is comma-separated integers, ``20,1,5,5`` or ``[20, 1, 5, 5]`` or ``(20, 1, 5, 5)``
  (``[]`` or ``()`` is a scalar). ``#`` starts a comment; blank lines are ignored.
* ``.json``: an object mapping name -> shape (a list of integers, or null when unknown),
  or a list whose items are names or objects ``{"name": ..., "shape": [...], "module":
  {"type": "BatchNorm2d", "classes": [...], "roles": ["norm"]}}`` (``shape`` and ``module``
  optional; ``module`` is the owning module, :class:`lrspec.ModuleInfo`, read by the
  ``modules`` selector). :func:`params_json` writes this form.

Only regular files of at most :data:`MAX_PARAM_FILE_BYTES` are read. A name listed twice is
an error in both formats (a JSON object's repeated key too); shapes are integers, never
truncated floats.

The result maps every name to its shape (``None`` when not given), or to a
:class:`lrspec.ParamMeta` when the file gives module info, in file order. Problems
raise :class:`lrspec.errors.ParamFileError`, one :class:`~lrspec.errors.Problem` per problem
with the file and, where known, the line (``render()``: ``file:line: message``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrspec.errors import ParamFileError, Problem
from lrspec.resolve.params import ModuleInfo, ParamMeta
from lrspec.spec.files import FileRefused, json_too_deep_at, read_bounded_text

__all__ = ["ParamFileError", "Shape", "params_json", "parse_param_text", "parse_shape", "read_params"]

Shape = tuple[int, ...]

MAX_PARAM_FILE_BYTES = 64 << 20
"""Largest parameter list accepted (64 MiB, about a million names with shapes), checked from
the file's size before reading; only regular files are read (not a FIFO, a device, a directory)."""

MAX_JSON_DEPTH = 8
"""A JSON parameter list nests two levels (an object of lists); deeper input is refused before parsing."""

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
                Problem(
                    "", f"parameter {name!r} is listed twice (first on line {first_line[name]})", file=file, line=lineno
                )
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


def _too_deep(text: str) -> bool:
    """Whether brackets (outside strings) nest deeper than :data:`MAX_JSON_DEPTH`."""
    return json_too_deep_at(text, MAX_JSON_DEPTH) is not None


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 2**63 - 1 for d in shape
    )


def _json_entry(
    entry: dict[str, Any], k: int, out: dict[str, Shape | ParamMeta | None], problems: list[Problem], file: str
) -> None:
    """One ``{"name": ..., "shape": ..., "module": ...}`` item of a JSON list into ``out``."""
    name = entry.get("name")
    extra = sorted(set(entry) - {"name", "shape", "module"})
    if not isinstance(name, str) or not name or "\n" in name:
        problems.append(Problem(f"[{k}]", f"expected a parameter name in 'name', got {name!r}", file=file))
        return
    if extra:
        problems.append(Problem(f"[{k}]", f"unknown key(s) {', '.join(extra)} (keys: name, shape, module)", file=file))
        return
    if name in out:
        problems.append(Problem(f"[{k}]", f"parameter {name!r} is listed twice", file=file))
        return
    shape = entry.get("shape")
    if shape is not None and not _is_shape(shape):
        problems.append(
            Problem(f"[{k}]", f"the shape must be a list of non-negative integers or null, got {shape!r}", file=file)
        )
        return
    dims = None if shape is None else tuple(shape)
    if entry.get("module") is None:
        out[name] = dims
        return
    try:
        out[name] = ParamMeta(dims, ModuleInfo.from_dict(entry["module"]))
    except ValueError as exc:
        problems.append(Problem(f"[{k}].module", str(exc), file=file))


def params_json(params: Mapping[str, Any]) -> str:
    """The JSON list form of a parameter mapping (name -> shape, :class:`lrspec.ParamMeta` or None):
    ``[{"name": ..., "shape": [...] or null, "module": {...}}, ...]`` (``module`` only when
    known), one item per line; :func:`read_params` reads it back to the same mapping."""
    lines = []
    for name, value in params.items():
        meta = value if isinstance(value, ParamMeta) else ParamMeta(None if value is None else tuple(value))
        item: dict[str, Any] = {"name": name, "shape": None if meta.shape is None else list(meta.shape)}
        if meta.module is not None:
            item["module"] = meta.module.to_dict()
        lines.append(json.dumps(item))
    return "[\n  " + ",\n  ".join(lines) + "\n]\n" if lines else "[]\n"


def _parse_json(text: str, file: str) -> dict[str, Shape | ParamMeta | None]:
    if _too_deep(text):
        raise ParamFileError(Problem("", f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels", file=file))
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in items:
            if k in out:
                duplicates.append(k)
            out[k] = v
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ParamFileError(Problem("", f"invalid JSON: {exc.msg}", file=file, line=exc.lineno)) from None
    except (ValueError, RecursionError) as exc:
        raise ParamFileError(Problem("", f"invalid JSON: {exc}", file=file)) from None
    problems: list[Problem] = [
        Problem(repr(name), f"parameter {name!r} is listed twice (a JSON object would keep only the last)", file=file)
        for name in dict.fromkeys(duplicates)
    ]
    out: dict[str, Shape | ParamMeta | None] = {}
    if isinstance(data, list):
        for k, name in enumerate(data):
            if isinstance(name, dict):
                _json_entry(name, k, out, problems, file)
            elif not isinstance(name, str) or not name or "\n" in name:
                problems.append(
                    Problem(
                        f"[{k}]",
                        f"expected a parameter name (a non-empty string without newlines), got {name!r}",
                        file=file,
                    )
                )
            elif name in out:
                problems.append(Problem(f"[{k}]", f"parameter {name!r} is listed twice", file=file))
            else:
                out[name] = None
    elif isinstance(data, dict):
        for name, shape in data.items():
            if not name or "\n" in name:
                problems.append(
                    Problem(repr(name), "a parameter name must be non-empty and without newlines", file=file)
                )
            elif name in duplicates:
                continue
            elif shape is None:
                out[name] = None
            elif _is_shape(shape):
                out[name] = tuple(shape)
            else:
                problems.append(
                    Problem(
                        repr(name),
                        f"the shape must be a list of non-negative integers or null, got {shape!r}",
                        file=file,
                    )
                )
    else:
        problems.append(
            Problem("", f"expected an object name -> shape or a list of names, got {type(data).__name__}", file=file)
        )
    if problems:
        raise ParamFileError(problems)
    if not out:
        raise ParamFileError(Problem("", "no parameter names in the file", file=file))
    return out


def read_params(path: str | os.PathLike[str]) -> dict[str, Shape | ParamMeta | None]:
    """Read a parameter list file (text or ``.json``) into ``{name: shape, ParamMeta or None}``.

    Only a regular file of at most :data:`MAX_PARAM_FILE_BYTES` is read; every problem is a
    :class:`ParamFileError` naming this file (never the spec)."""
    file = str(path)
    p = Path(path)
    try:
        text = read_bounded_text(p, MAX_PARAM_FILE_BYTES, "parameter list")
    except FileNotFoundError:
        raise ParamFileError(Problem("", "file not found", file=file)) from None
    except FileRefused as exc:
        raise ParamFileError(Problem("", str(exc), file=file)) from None
    if p.suffix.lower() == ".json":
        return _parse_json(text, file)
    return dict(parse_param_text(text, file))
