"""Name patterns: globs and ``re:`` regexes over canonical parameter names.

* A glob follows :mod:`fnmatch` rules, case-sensitive: ``*`` matches any run of characters
  *including dots* (``*.bias`` matches ``features.0.bias``), ``?`` one character,
  ``[seq]``/``[!seq]`` a character class.
* ``re:<regex>`` is a Python regular expression that must match the whole name
  (``re.fullmatch``).
* In ``layer_decay.layers`` a pattern may contain ``{i}`` once; it matches a non-negative
  integer (``[0-9]+``) and the index found becomes part of the layer's identity.

Matching many names is done by one regex scan per pattern over all names joined with
newlines (C speed): the pattern becomes ``\n(?:body)(?=\n)``, whose literal prefix lets the
regex engine jump from line to line. That is what makes 100k names x 50 patterns resolve in
well under a second. It is only correct when the pattern cannot match a newline: globs are
translated so that they cannot, and ``re:`` regexes are analysed (:func:`regex_is_line_safe`);
a regex that could match a newline (``[^.]``, ``\\s``, ``(?s).``, ``\\A``, global inline flags, ...)
falls back to ``fullmatch`` per name, which gives the same result, only slower.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.errors import LrSpecError

REGEX_PREFIX = "re:"
INDEX_PLACEHOLDER = "{i}"


def _glob_to_regex(glob: str) -> str:
    """Translate a glob into a regex body whose wildcards never cross a newline."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            while i < n and glob[i] == "*":
                i += 1
            out.append(r"[^\n]*")
        elif c == "?":
            out.append(r"[^\n]")
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(r"\[")
                continue
            body = glob[i:j].replace("\\", "\\\\")
            # escape what Python would read as a nested set or a set operation ([, &&, ~~, ||)
            body = re.sub(r"([&~|\[])", r"\\\1", body)
            i = j + 1
            if body.startswith("!"):
                out.append(f"[^\n{body[1:]}]")
            else:
                if body.startswith("^"):
                    body = "\\" + body
                # a range such as [!-~] could include a newline: exclude it explicitly
                out.append(f"(?!\n)[{body}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


_sre: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")

_NEWLINE = 10
_SAFE_CATEGORIES = frozenset(
    str(c) for c in ("CATEGORY_DIGIT", "CATEGORY_WORD", "CATEGORY_NOT_SPACE", "CATEGORY_NOT_LINEBREAK")
)
_NEWLINE_CATEGORIES = frozenset(("CATEGORY_SPACE", "CATEGORY_NOT_DIGIT", "CATEGORY_NOT_WORD", "CATEGORY_LINEBREAK"))
_SAFE_AT = frozenset(("AT_BEGINNING", "AT_END", "AT_BOUNDARY", "AT_NON_BOUNDARY"))


def _set_has_newline(items: list[tuple[Any, Any]]) -> bool | None:
    """Whether a (non-negated) character set contains a newline; None when unknown."""
    for op, av in items:
        kind = str(op)
        if kind == "LITERAL":
            if av == _NEWLINE:
                return True
        elif kind == "RANGE":
            if av[0] <= _NEWLINE <= av[1]:
                return True
        elif kind == "CATEGORY":
            if str(av) in _NEWLINE_CATEGORIES:
                return True
            if str(av) not in _SAFE_CATEGORIES:
                return None
        else:
            return None
    return False


def _items_line_safe(items: Any, dotall: bool) -> bool:
    for op, av in items:
        kind = str(op)
        if kind == "LITERAL":
            if av == _NEWLINE:
                return False
        elif kind == "NOT_LITERAL":
            if av != _NEWLINE:
                return False
        elif kind == "ANY":
            if dotall:
                return False
        elif kind == "IN":
            negated = bool(av) and str(av[0][0]) == "NEGATE"
            has_newline = _set_has_newline(av[1:] if negated else av)
            if has_newline is None or has_newline != negated:
                return False
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if not _items_line_safe(av[2], dotall):
                return False
        elif kind == "SUBPATTERN":
            _group, add_flags, _del_flags, sub = av
            if not _items_line_safe(sub, dotall or bool(add_flags & _sre.SRE_FLAG_DOTALL)):
                return False
        elif kind == "BRANCH":
            if not all(_items_line_safe(sub, dotall) for sub in av[1]):
                return False
        elif kind in ("ASSERT", "ASSERT_NOT"):
            if not _items_line_safe(av[1], dotall):
                return False
        elif kind == "ATOMIC_GROUP":
            if not _items_line_safe(av, dotall):
                return False
        elif kind == "GROUPREF_EXISTS":
            _group, yes, no = av
            if not _items_line_safe(yes, dotall) or (no is not None and not _items_line_safe(no, dotall)):
                return False
        elif kind == "AT":
            if str(av) not in _SAFE_AT:
                return False
        elif kind != "GROUPREF":
            return False
    return True


def regex_is_line_safe(body: str) -> bool:
    """True when the regex ``body`` provably cannot match a newline, so scanning newline-joined
    names with ``\\n(?:body)(?=\\n)`` finds exactly the names ``re.fullmatch(body, name)`` accepts.

    Conservative: anything not understood counts as unsafe (and is matched name by name).
    Global inline flags (``(?i)...``) are unsafe because the scan wraps the body.
    """
    try:
        parsed = _sre.parse(body)
    except Exception:
        return False
    if parsed.state.flags & ~_sre.SRE_FLAG_UNICODE:
        return False
    return _items_line_safe(parsed, False)


@dataclass(frozen=True)
class Pattern:
    """A compiled name pattern. ``source`` is what the user wrote; ``regex`` matches a whole
    name with ``fullmatch``."""

    source: str
    regex: re.Pattern[str]
    #: True when the regex cannot match across a newline (glob or safe regex), so it can
    #: be used in a scan over newline-joined names.
    line_safe: bool
    has_index: bool
    scan: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def fullmatch(self, name: str) -> re.Match[str] | None:
        """The match of the whole ``name``, or None."""
        return self.regex.fullmatch(name)

    def index_of(self, name: str) -> int | None:
        """For an ``{i}`` pattern: the integer the placeholder matched in ``name``."""
        m = self.regex.fullmatch(name)
        if m is None or not self.has_index:
            return None
        return int(m.group("i"))


class PatternError(LrSpecError, ValueError):
    """A pattern is not valid; the message says why (one :class:`~lrspec.Problem` without a
    location: the caller knows where the pattern came from, e.g. ``groups[0].params[1]``)."""


def _make(source: str, body: str, line_safe: bool, has_index: bool) -> Pattern:
    rx = re.compile(body)
    # MULTILINE: a user's ^ and $ then hold at the name's own start and end
    scan = re.compile(r"\n(?:" + body + r")(?=\n)", re.MULTILINE) if line_safe else None
    return Pattern(source, rx, line_safe=line_safe, has_index=has_index, scan=scan)


def compile_pattern(source: str, *, allow_index: bool = False) -> Pattern:
    """Compile a glob or ``re:`` pattern. Raises :class:`PatternError` with a plain message."""
    has_index = INDEX_PLACEHOLDER in source
    if has_index and not allow_index:
        raise PatternError("'{i}' is only allowed in layer_decay.layers")
    if source.count(INDEX_PLACEHOLDER) > 1:
        raise PatternError("'{i}' may appear at most once in a pattern")
    if source.startswith(REGEX_PREFIX):
        body = source[len(REGEX_PREFIX) :]
        if not body:
            raise PatternError("empty regular expression after 're:'")
        if has_index:
            body = body.replace(INDEX_PLACEHOLDER, "(?P<i>[0-9]+)")
        try:
            re.compile(body)
        except (re.error, OverflowError, RecursionError, ValueError) as exc:
            what = source[len(REGEX_PREFIX) :]
            detail = str(exc).split(" at position")[0] if has_index else str(exc)
            raise PatternError(f"invalid regular expression {what!r}: {detail}") from None
        return _make(source, body, regex_is_line_safe(body), has_index)
    if has_index:
        head, tail = source.split(INDEX_PLACEHOLDER)
        body = _glob_to_regex(head) + "(?P<i>[0-9]+)" + _glob_to_regex(tail)
    else:
        body = _glob_to_regex(source)
    return _make(source, body, "\n" not in source, has_index)


class NameIndex:
    """Names prepared for fast matching: joined once (``"\\n" + "\\n".join(names) + "\\n"``),
    then scanned once per pattern."""

    def __init__(self, names: Sequence[str]):
        self.names = names
        self._text = "\n" + "\n".join(names) + "\n"
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        # offset of the newline that precedes each name
        self._starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(names) else lengths

    def _rows(self, starts: list[int]) -> npt.NDArray[np.intp]:
        return np.searchsorted(self._starts, np.asarray(starts, dtype=np.int64)).astype(np.intp)

    def match_array(self, pattern: Pattern) -> npt.NDArray[np.intp]:
        """Indices of the names that ``pattern`` matches in full, ascending, as an array."""
        if pattern.scan is None:
            fm = pattern.regex.fullmatch
            hits = np.fromiter((m is not None for m in map(fm, self.names)), dtype=bool, count=len(self.names))
            return np.flatnonzero(hits)
        return self._rows([m.start() for m in pattern.scan.finditer(self._text)])

    def matches(self, pattern: Pattern) -> list[int]:
        """Indices of the names that ``pattern`` matches in full, in name order."""
        return [int(k) for k in self.match_array(pattern)]

    def match_indices(self, pattern: Pattern) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """For an ``{i}`` pattern: (rows matched, the integer ``{i}`` matched in each)."""
        if pattern.scan is None:
            fm = pattern.regex.fullmatch
            rows: list[int] = []
            values: list[int] = []
            for k, name in enumerate(self.names):
                m = fm(name)
                if m is not None:
                    rows.append(k)
                    values.append(int(m.group("i")))
            return np.asarray(rows, dtype=np.intp), np.asarray(values, dtype=np.int64)
        found = [(m.start(), m.group("i")) for m in pattern.scan.finditer(self._text)]
        if not found:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
        starts, digits = zip(*found)
        return self._rows(list(starts)), np.array(digits, dtype=str).astype(np.int64)
