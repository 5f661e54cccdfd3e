"""Pure helpers for the code generators of ``lrspec compile --emit python``.

Targets' emitters (``Target.emit_python``) use them to write values and docstrings that parse
whatever the user's input was, and to inline lrspec's schedule interpreter.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from lrspec import schedules

__all__ = ["docstring_lines", "escape_docstring_text", "literal", "schedule_interpreter_source"]


def literal(value: Any) -> str:
    """``value`` as a Python literal that evaluates back to it: numbers, bools, None, strings
    (always ASCII source: :func:`ascii`, so any name is safe in any file encoding), and lists,
    tuples and dicts of those (recursively). Non-finite floats are written as ``float('inf')``."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({repr(value)!r})"
    if isinstance(value, str):
        return ascii(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {type(value).__name__} as a Python literal: {value!r}")


def escape_docstring_text(text: str) -> str:
    r"""``text`` made safe inside a (non-raw) triple-quoted string: backslashes, quotes, control
    and non-ASCII characters are written as escapes, so the string's *value* is ``text`` again
    and nothing in it can close the string.

    >>> print(escape_docstring_text('a "quote", C:\\new and\na newline'))
    a \"quote\", C:\\new and\na newline
    """
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def docstring_lines(header: str, *body: str) -> list[str]:
    """The generated module's docstring (``header`` paragraph, a blank line, ``body`` lines),
    followed by a blank line. ``header`` and ``body`` must already be safe inside a
    triple-quoted string (:func:`escape_docstring_text` for anything user-provided)."""
    return [f'"""{header}', "", *body, '"""', ""]


def schedule_interpreter_source() -> str:
    """Source of :func:`lrspec.schedules.from_dict` and the factories it calls (with
    :func:`inspect.getsource`), for a generated module that imports ``bisect`` and ``math``
    and starts with ``from __future__ import annotations`` (the annotations are not evaluated).
    ``from_dict(node_json)`` there is then the very definition of the schedule."""
    parts = [f"# ---- inlined from {schedules.__name__} (the definition of every schedule) ----", "", ""]
    for name in schedules.INTERPRETER:
        parts += [inspect.getsource(getattr(schedules, name)).rstrip(), "", ""]
    return "\n".join(parts)
