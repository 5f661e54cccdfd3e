"""Load a spec file (.json, .yaml, .yml) into a :class:`~lrspec.spec.Spec`.

YAML is read with a safe loader only: tags such as ``!!python/object`` are errors, never
executed. Scalars follow the YAML 1.2 core schema (:mod:`lrspec.spec.yaml12`: ``1e-5`` is a
float, ``yes``/``on`` are strings, ``010`` is an error, ``1:30`` a string), and a key repeated
in one mapping is an error instead of silently keeping the last value. Bounds: a spec file
is a regular file of at most :data:`MAX_SPEC_BYTES`, at most :data:`MAX_NODES` nodes and
:data:`MAX_DEPTH` levels deep. Positions of every key are kept so that errors say ``file:line:col``.
JSON is parsed with :mod:`json` (duplicate keys rejected, NaN/Infinity rejected); its
positions come from reading the same text with the YAML composer, which accepts JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FsPath
from typing import Any

import yaml

from lrspec.errors import Problem, SpecError
from lrspec.spec.files import FileRefused, json_too_deep_at, read_bounded_text
from lrspec.spec.locations import Path, format_path
from lrspec.spec.models import Spec
from lrspec.spec.validation import validate_spec_data
from lrspec.spec.yaml12 import SpecLoader

__all__ = ["load", "load_text", "parse_text"]

_SpecLoader = SpecLoader


MAX_NODES = 100_000
"""Largest document accepted, in nodes after expanding aliases (guards against alias bombs)."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted (a spec needs about 10)."""

MAX_SPEC_BYTES = 1 << 20
"""Largest spec file accepted, in bytes (1 MiB): checked from the file's size before reading."""


def _positions(
    root: yaml.Node, out: dict[Path, tuple[int, int]], dupes: list[tuple[Path, int, int]], file: str | None
) -> None:
    """Record the (line, column) of every key and value, and every duplicate key.

    Raises SpecError for a recursive alias or a document that expands to more than
    :data:`MAX_NODES` nodes (a "billion laughs" alias bomb), before anything is constructed.
    """
    count = 0
    active: set[int] = set()

    def fail(node: yaml.Node, message: str) -> SpecError:
        return SpecError(
            Problem("", message, file=file, line=node.start_mark.line + 1, column=node.start_mark.column + 1),
            file=file,
        )

    def walk(node: yaml.Node, path: Path) -> None:
        nonlocal count
        count += 1
        if len(path) > MAX_DEPTH:
            raise fail(node, f"nested too deeply (more than {MAX_DEPTH} levels of mappings and lists)")
        if count > MAX_NODES:
            raise fail(node, f"the document is too large (more than {MAX_NODES} nodes once aliases are expanded)")
        if id(node) in active:
            raise fail(node, "recursive alias: a node contains itself")
        out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            active.add(id(node))
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                child = (*path, key)
                if key in seen:
                    dupes.append((child, key_node.start_mark.line + 1, key_node.start_mark.column + 1))
                seen.add(key)
                out[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                walk(value_node, child)
            active.discard(id(node))
        elif isinstance(node, yaml.SequenceNode):
            active.add(id(node))
            for k, item in enumerate(node.value):
                walk(item, (*path, k))
            active.discard(id(node))

    walk(root, ())


def _path_at(root: yaml.Node | None, mark: Any) -> str:
    """The dotted path of the node of ``root`` that starts at ``mark`` ("" when none does), so a
    value that cannot be constructed is reported where it is, as JSON reports it."""
    if root is None or mark is None:
        return ""
    stack: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen or len(path) > MAX_DEPTH:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.start_mark.index == mark.index:
            return format_path(path)
        if isinstance(node, yaml.MappingNode):
            stack += [(v, (*path, k.value if isinstance(k, yaml.ScalarNode) else str(k.value))) for k, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(v, (*path, i)) for i, v in enumerate(node.value)]
    return ""


def _yaml_error(exc: yaml.YAMLError, file: str | None, root: yaml.Node | None = None) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if "could not determine a constructor" in str(exc) or "tag" in str(problem):
        problem = f"{problem} (only plain YAML is allowed; tags like !!python/object are never executed)"
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    where = _path_at(root, mark) if isinstance(exc, yaml.constructor.ConstructorError) else ""
    return SpecError(Problem(where, f"invalid YAML: {problem}", file=file, line=line, column=col), file=file)


def _compose(text: str) -> yaml.Node | None:
    loader = _SpecLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _duplicate_error(dupes: list[tuple[Path, int, int]], file: str | None) -> SpecError:
    return SpecError(
        [
            Problem(
                format_path(p),
                f"duplicate key {p[-1]!r} (the parser would silently keep the last one)",
                file=file,
                line=ln,
                column=col,
            )
            for p, ln, col in dupes
        ],
        file=file,
    )


def _parse_json(text: str, file: str | None) -> tuple[Any, dict[Path, tuple[int, int]]]:
    positions: dict[Path, tuple[int, int]] = {}
    dupes: list[tuple[Path, int, int]] = []

    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise ValueError(f"duplicate key {k!r}")
            out[k] = v
        return out

    if not text.strip():
        raise SpecError(Problem("", "the file is empty", file=file), file=file)
    depth_problem = _json_depth_problem(text, file)
    if depth_problem is not None:
        raise depth_problem
    try:
        # NaN/Infinity parse as floats so that validation reports them at their field
        data = json.loads(text, object_pairs_hook=no_dupes)
    except RecursionError:
        raise SpecError(
            Problem("", f"invalid JSON: nested too deeply (more than {MAX_DEPTH} levels)", file=file), file=file
        ) from None
    except json.JSONDecodeError as exc:
        raise SpecError(
            Problem("", f"invalid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno), file=file
        ) from None
    except ValueError as exc:
        failure: str = str(exc)
    else:
        failure = ""
    # positions: JSON is (almost) YAML flow syntax; tabs are not allowed there, so blank them
    # (same offsets, so the same line:col)
    try:
        node = _compose(text.replace("\t", " "))
        if node is not None:
            _positions(node, positions, dupes, file)
    except (yaml.YAMLError, RecursionError, SpecError):
        positions, dupes = {}, []
    if dupes:
        raise _duplicate_error(dupes, file)
    if failure:
        raise SpecError(Problem("", f"invalid JSON: {failure}", file=file), file=file)
    return data, positions


def _json_depth_problem(text: str, file: str | None) -> SpecError | None:
    """A SpecError if brackets nest deeper than :data:`MAX_DEPTH` (strings skipped), before
    anything recursive reads the text."""
    line = json_too_deep_at(text, MAX_DEPTH)
    if line is None:
        return None
    message = f"invalid JSON: nested too deeply (more than {MAX_DEPTH} levels of objects and arrays)"
    return SpecError(Problem("", message, file=file, line=line), file=file)


def parse_text(text: str, *, fmt: str = "yaml", file: str | None = None) -> tuple[Any, dict[Path, tuple[int, int]]]:
    """Parse spec text into plain data and a map path -> (line, column). No validation.

    ``fmt`` is ``"yaml"`` or ``"json"``. Raises SpecError for syntax errors, duplicate keys,
    YAML tags, recursive aliases and alias bombs, nesting deeper than :data:`MAX_DEPTH`,
    scalars that cannot be constructed, an empty document. YAML follows the 1.2 core
    schema (:mod:`lrspec.spec.yaml12`).
    """
    if fmt == "json":
        return _parse_json(text, file)
    if fmt != "yaml":
        raise ValueError(f"fmt must be 'yaml' or 'json', not {fmt!r}")
    positions: dict[Path, tuple[int, int]] = {}
    dupes: list[tuple[Path, int, int]] = []
    node: yaml.Node | None = None
    try:
        node = _compose(text)
        if node is None:
            raise SpecError(Problem("", "the file is empty", file=file), file=file)
        _positions(node, positions, dupes, file)
        if dupes:
            raise _duplicate_error(dupes, file)
        loader = _SpecLoader("")
        try:
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, node) from None
    except RecursionError:
        raise SpecError(Problem("", "invalid YAML: nested too deeply", file=file), file=file) from None
    return data, positions


def load_text(text: str, *, fmt: str = "yaml", file: str | None = None) -> Spec:
    """Parse and validate spec text (``fmt`` is ``"yaml"`` or ``"json"``)."""
    data, positions = parse_text(text, fmt=fmt, file=file)
    return validate_spec_data(data, file=file, positions=positions)


def load(path: str | os.PathLike[str]) -> Spec:
    """Load and validate a spec file; the format is chosen by the suffix (.json, .yaml, .yml).

    Raises :class:`lrspec.SpecError` for a missing/unreadable file, a file that is not a
    regular file (a FIFO, a device, a directory) or is larger than :data:`MAX_SPEC_BYTES`
    (checked before reading), a syntax error, or an invalid spec; every problem carries
    ``file:line:col`` where known.
    """
    p = FsPath(path)
    name = str(path)
    suffix = p.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise SpecError(
            Problem("", f"unsupported spec file type {suffix or '(none)'!r}: use .json, .yaml or .yml", file=name),
            file=name,
        )
    try:
        text = read_bounded_text(p, MAX_SPEC_BYTES, "spec file")
    except FileNotFoundError:
        raise SpecError(Problem("", "file not found", file=name), file=name) from None
    except FileRefused as exc:
        raise SpecError(Problem("", str(exc), file=name), file=name) from None
    return load_text(text, fmt="json" if suffix == ".json" else "yaml", file=name)
