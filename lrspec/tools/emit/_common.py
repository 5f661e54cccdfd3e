"""Helpers shared by the emitters (:mod:`lrspec.tools.emit.torch_code`, :mod:`lrspec.tools.emit.tf_code`)."""

from __future__ import annotations

from typing import Any

__all__ = ["docstring_lines", "literal"]


def literal(value: Any) -> str:
    """``value`` as Python source: ``repr``, with tuples written element by element (recursively)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def docstring_lines(header: str, *body: str) -> list[str]:
    """The generated module's docstring (``header`` paragraph, a blank line, ``body`` lines),
    followed by a blank line."""
    return [f'"""{header}', "", *body, '"""', ""]
