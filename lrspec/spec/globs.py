"""Globs as regexes that match in time linear in the name's length.

A glob follows :func:`fnmatch.fnmatchcase` exactly (case-sensitive; ``*`` crosses dots;
``[seq]``/``[!seq]`` classes with fnmatch's rules for ``]`` and ``-``), except that a class
with a reversed range such as ``[z-a]`` is an error (fnmatch silently drops it). The regex
never matches a newline, so it can scan newline-joined names.

Linear time with Python's backtracking engine: a glob with one ``*`` (not counting a
trailing one, which always matches the rest) becomes ``S0[^\\n]*S1[^\\n]*`` (one
backtracking point); with more stars, every segment between two stars
is matched at its leftmost place and never revisited (``(?=(?P<_aK>[^\\n]*?S))(?P=_aK)``, an
atomic group) -- the classic greedy wildcard algorithm, correct because segments have a
fixed length. ``{i}`` (layer-decay patterns) matches a *whole* run of digits
(``(?<![0-9])[0-9]+(?![0-9])``), so ``*{i}.weight`` reads ``12`` from ``blocks.12.weight``.
Cost: O(len(name) * len(glob)).
"""

from __future__ import annotations

__all__ = ["GlobError", "glob_to_regex"]

INDEX_REGEX = r"(?<![0-9])(?P<i>[0-9]+)(?![0-9])"
_STAR = object()
_INDEX = object()


class GlobError(ValueError):
    """A glob cannot be translated (a reversed range in a class)."""


def _char(cp: int) -> str:
    c = chr(cp)
    return c if c.isascii() and c.isalnum() else f"\\U{cp:08x}"


def _class(pat: str, i: int, j: int) -> str:
    """The regex for the class ``pat[i-1 : j+1]`` (``[`` at i-1, ``]`` at j), fnmatch's rules."""
    negated = pat[i] == "!"
    if "-" not in pat[i:j]:
        chunks = [pat[i:j]]
    else:
        chunks = []
        k = i + 2 if negated else i + 1
        start = i
        while True:
            k = pat.find("-", k, j)
            if k < 0:
                break
            chunks.append(pat[start:k])
            start = k + 1
            k = k + 3
        last = pat[start:j]
        if last:
            chunks.append(last)
        else:
            chunks[-1] += "-"
    if negated:
        chunks[0] = chunks[0][1:]
    ranges: list[tuple[int, int]] = []
    for n, chunk in enumerate(chunks):
        ranges += [(ord(c), ord(c)) for c in chunk]
        if n:
            first, second = chunks[n - 1][-1], chunk[0]
            if first > second:
                raise GlobError(
                    f"invalid range {first + '-' + second!r} in {pat[i - 1 : j + 1]!r}: {first!r} comes after {second!r}"
                )
            ranges.append((ord(first), ord(second)))
    parts: list[str] = []
    for lo, hi in ranges:  # never a newline: split a range around it
        for a, b in ((lo, min(hi, 9)), (max(lo, 11), hi)):
            if a <= b:
                parts.append(_char(a) if a == b else f"{_char(a)}-{_char(b)}")
    if negated:
        return "[^\\n" + "".join(parts) + "]"
    return "[" + "".join(parts) + "]" if parts else "(?!)"


def _tokens(glob: str) -> list[object]:
    """Fixed-width atoms (regex strings) and stars, fnmatch's tokenisation."""
    out: list[object] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            if not out or out[-1] is not _STAR:
                out.append(_STAR)
        elif c == "?":
            out.append("[^\\n]")
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
            else:
                out.append(_class(glob, i, j))
                i = j + 1
        else:
            out.append("\\n(?!)" if c == "\n" else _char(ord(c)))
    return out


def glob_to_regex(glob: str, *, index: bool = False) -> str:
    """A regex body matching exactly the names ``glob`` matches (with ``index``: ``{i}``
    is a whole run of digits, captured as group ``i``). Raises :class:`GlobError`."""
    if index:
        head, tail = glob.split("{i}")
        tokens = [*_tokens(head), _INDEX, *_tokens(tail)]
    else:
        tokens = _tokens(glob)
    segments: list[str] = [""]
    for t in tokens:
        if t is _STAR:
            segments.append("")
        else:
            segments[-1] += INDEX_REGEX if t is _INDEX else str(t)
    if len(segments) <= 2 or (len(segments) == 3 and not segments[2]):
        # at most one star that can fail: a trailing star always matches the rest
        return "[^\\n]*".join(segments)
    first, *middle, last = segments
    atomic = "".join(f"(?=(?P<_a{k}>[^\\n]*?{seg}))(?P=_a{k})" for k, seg in enumerate(middle))
    return first + atomic + "[^\\n]*" + last
