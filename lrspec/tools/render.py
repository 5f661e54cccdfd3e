"""Plain-text tables for the command line: deterministic, stdlib only.

:func:`render_table` lays out a header row and data rows in columns separated by two spaces,
with a dashed rule under the header. Every cell goes through :func:`printable`, so a name
holding terminal escape sequences or other control characters (a hostile model file) is shown
escaped (``\\x1b``), never sent to the terminal. When the natural width exceeds ``width`` (100 by
default), the widest columns are narrowed and their cells wrapped onto continuation lines
(long words are broken), so every line fits. The same input always gives the same text: no
terminal detection, no colours.

>>> print(render_table(["name", "lr"], [["conv1.weight", "1e-05"], ["fc.bias", "0.001"]]))
name          lr
------------  -----
conv1.weight  1e-05
fc.bias       0.001
"""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Sequence

__all__ = ["DEFAULT_WIDTH", "fmt_float", "natural_width", "printable", "render_table"]

DEFAULT_WIDTH = 100
_SEP = "  "
_MIN_COL = 6


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    r"""``text`` safe to print on a terminal: control characters (C0, DEL, C1, which start
    escape sequences) and invisible format characters (bidirectional overrides, zero-width
    characters) are written as Python escapes (``\x1b``, ``\u202e``); everything else,
    non-ASCII letters included, is kept. ``keep_newlines`` keeps ``\n``.

    >>> printable("a\x1b[2Jb\u202e")
    'a\\x1b[2Jb\\u202e'
    """
    if text.isprintable() and text.isascii():
        return text
    return "".join(
        ch
        if (ch == "\n" and keep_newlines) or ch == " " or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")
        else _escape(ch)
        for ch in text
    )


def fmt_float(value: float) -> str:
    """A short, exact-enough rendering of a float for tables: 6 significant digits.

    >>> fmt_float(0.001), fmt_float(1e-05), fmt_float(0.000421875), fmt_float(0.0)
    ('0.001', '1e-05', '0.000421875', '0')
    """
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return format(value, ".6g")


def _cells(rows: Sequence[Sequence[object]]) -> list[list[str]]:
    return [[printable(str(c), keep_newlines=True) for c in r] for r in rows]


def _natural(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [
        max([len(headers[i])] + [max((len(s) for s in str(r[i]).split("\n")), default=0) for r in rows])
        for i in range(len(headers))
    ]


def natural_width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The width :func:`render_table` needs to show every cell on one line."""
    return sum(_natural(_cells([headers])[0], _cells(rows))) + len(_SEP) * (len(headers) - 1)


def _fit_widths(natural: list[int], minimum: list[int], budget: int) -> list[int]:
    """Shrink the widest columns, one character at a time, until their sum fits ``budget``."""
    widths = list(natural)
    while sum(widths) > budget:
        k = max(range(len(widths)), key=lambda i: (widths[i] - minimum[i] > 0, widths[i], -i))
        if widths[k] <= minimum[k]:
            break
        widths[k] -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for part in text.split("\n"):
        wrapped = textwrap.wrap(part, width=width, break_long_words=True, break_on_hyphens=False)
        lines.extend(wrapped or [""])
    return lines


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int = DEFAULT_WIDTH,
    align: Sequence[str] | None = None,
) -> str:
    """Render ``rows`` under ``headers`` in at most ``width`` columns (no trailing spaces).

    ``align`` gives ``"l"`` or ``"r"`` per column (default: all left). Cells are strings;
    a cell wider than its column is wrapped onto extra lines of the same row.
    """
    ncols = len(headers)
    if any(len(r) != ncols for r in rows):
        raise ValueError("every row must have as many cells as there are headers")
    headers, rows = _cells([headers])[0], _cells(rows)
    aligns = list(align) if align is not None else ["l"] * ncols
    natural = _natural(headers, rows)
    minimum = [min(natural[i], max(_MIN_COL, min(len(headers[i]), 12))) for i in range(ncols)]
    budget = max(width - len(_SEP) * (ncols - 1), ncols)
    widths = _fit_widths(natural, minimum, budget)

    def line(cells: Sequence[str]) -> list[str]:
        wrapped = [_wrap(str(c), widths[i]) for i, c in enumerate(cells)]
        height = max(len(w) for w in wrapped)
        out = []
        for j in range(height):
            parts = []
            for i in range(ncols):
                text = wrapped[i][j] if j < len(wrapped[i]) else ""
                parts.append(text.rjust(widths[i]) if aligns[i] == "r" else text.ljust(widths[i]))
            out.append(_SEP.join(parts).rstrip())
        return out

    out = line(headers)
    out.append(_SEP.join("-" * w for w in widths))
    for r in rows:
        out.extend(line(r))
    return "\n".join(out)
