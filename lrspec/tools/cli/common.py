"""Helpers the commands share: target names, loading specs and parameter lists, resolving,
writing output."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, TextIO

from lrspec.errors import ResolveError, SpecError
from lrspec.tools.cli.errors import UsageError, UserError, located

__all__ = ["check_target", "json_text", "load_spec", "read_params", "resolve", "target_names", "write_output"]


def target_names() -> list[str]:
    """Every known target name (built-in and plugins), without importing a framework."""
    from lrspec.targets import available_targets

    return [t.name for t in available_targets()]


def check_target(name: str, prog: str) -> str:
    """``name`` when it is a known target, else a :class:`UsageError` with a suggestion."""
    known = target_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"{prog}: unknown target {name!r}{hint}; known targets: {', '.join(known)}")
    return name


def load_spec(path: str) -> Any:
    """The spec in ``path``; problems without a position are reported at ``path``."""
    from lrspec.spec.loader import load

    with located(path, SpecError):
        return load(path)


def read_params(path: str) -> dict[str, tuple[int, ...] | None]:
    """The parameter list in ``path`` (:func:`lrspec.tools.paramfile.read_params`)."""
    from lrspec.tools.paramfile import read_params as read

    return read(path)


def resolve(spec: Any, params: Any, spec_path: str) -> Any:
    """The plan of ``spec`` for ``params``; resolution problems are reported at ``spec_path``."""
    from lrspec.resolve import resolve as resolve_spec

    with located(spec_path, ResolveError):
        return resolve_spec(spec, params)


def write_output(text: str, out: str | None, force: bool, stdout: TextIO) -> None:
    """Print ``text`` or write it to ``out`` (refusing to overwrite unless ``force``)."""
    text = text if text.endswith("\n") else text + "\n"
    if out is None or out == "-":
        stdout.write(text)
        return
    path = Path(out)
    if path.exists() and not force:
        raise UserError(out, "the file exists; use --force to overwrite it")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(out, f"cannot write the file: {exc.strerror or exc}") from None


def json_text(data: Any) -> str:
    """``data`` as the CLI's JSON documents are printed (indented, key order kept)."""
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
