r"""Name patterns: globs and ``re:`` regexes over canonical parameter names.

* A glob follows :func:`fnmatch.fnmatchcase`, case-sensitive: ``*`` matches any run of
  characters *including dots* (``*.bias`` matches ``features.0.bias``), ``?`` one character,
  ``[seq]``/``[!seq]`` a character class; a reversed range (``[z-a]``) is an error.
  Translation: :mod:`lrspec.spec.globs` (linear time in the name's length).
* ``re:<regex>`` is an RE2 regular expression (https://github.com/google/re2/wiki/Syntax)
  that must match the whole name. RE2 runs in time linear in the name's length, so no
  pattern can hang resolution (``re:(a+)+b`` included). It has no lookaround, backreferences,
  possessive quantifiers or conditional groups (such a pattern is a clear error), and its
  ``\d``, ``\w``, ``\s``, ``\b`` are ASCII-only.
* In ``layer_decay.layers`` a pattern may contain ``{i}`` once; it matches a non-negative
  integer (in a glob: a whole run of digits) and the index found becomes part of the
  layer's identity; an index beyond int64 is an error.

Matching many names is done by one scan per pattern over all names joined with newlines (C
speed): a glob becomes ``\n(?:body)(?=\n)`` for Python's :mod:`re`, whose literal prefix lets
the engine jump from line to line; a ``re:`` pattern becomes ``(?m)^(?:body)$`` for RE2 with
``never_nl`` (no match can contain a newline), over the UTF-8 bytes. Both give exactly the
names a ``fullmatch`` per name accepts. :func:`regex_is_line_safe` is the older analysis of
Python regexes that cannot match a newline (kept as a utility).
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
import re2  # type: ignore[import-untyped]

from lrspec.errors import LrSpecError
from lrspec.spec.globs import GlobError, glob_to_regex

REGEX_PREFIX = "re:"
INDEX_PLACEHOLDER = "{i}"
INT64_MAX = 2**63 - 1


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


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.never_nl = True  # no match ever contains a newline: scanning joined names is exact
_RE2_OPTIONS.log_errors = False
_RE2_SCAN = re2.Options()
_RE2_SCAN.never_nl = True
_RE2_SCAN.log_errors = False
_RE2_SCAN.never_capture = True  # the scan needs only where a match starts: RE2's fast DFA
_RE2_HINT = (
    "; re: patterns use RE2 syntax (linear time): no lookaround, backreferences, possessive "
    "quantifiers or conditionals, \\d \\w \\s \\b are ASCII, repeats are at most {1000}"
)


class PatternError(LrSpecError, ValueError):
    """A pattern is not valid; the message says why (one :class:`~lrspec.Problem` without a
    location: the caller knows where the pattern came from, e.g. ``groups[0].params[1]``)."""


@dataclass(frozen=True)
class Pattern:
    """A compiled name pattern. ``source`` is what the user wrote; ``engine`` is ``"glob"``
    (Python :mod:`re` over a linear-time translation) or ``"re2"`` (``re:`` patterns)."""

    source: str
    engine: str
    has_index: bool
    #: the whole-name matcher (``fullmatch``)
    regex: Any = field(repr=False, compare=False)
    #: the scan over newline-joined names: ``\\n(?:body)(?=\\n)`` (glob, over str) or
    #: ``(?m)^(?:body)$`` (RE2, over UTF-8 bytes)
    scan: Any = field(repr=False, compare=False)
    #: kept for compatibility: every pattern can scan joined names
    line_safe: bool = True

    def fullmatch(self, name: str) -> Any:
        """The match of the whole ``name`` (a match object), or None."""
        return self.regex.fullmatch(name)

    def index_of(self, name: str) -> int | None:
        """For an ``{i}`` pattern: the integer the placeholder matched in ``name``."""
        m = self.regex.fullmatch(name)
        if m is None or not self.has_index:
            return None
        return int(m.group("i"))


def _compile_regex(source: str, has_index: bool) -> Pattern:
    body = source[len(REGEX_PREFIX) :]
    if not body:
        raise PatternError("empty regular expression after 're:'")
    if has_index:
        body = body.replace(INDEX_PLACEHOLDER, "(?P<i>[0-9]+)")
    try:
        full = re2.compile(body, _RE2_OPTIONS)
        scan_text = ("(?m)^(?:" + body + ")$").encode("utf-8")
        scan = re2.compile(scan_text, _RE2_OPTIONS if has_index else _RE2_SCAN)
    except (re2.error, ValueError, TypeError, OverflowError) as exc:
        raise PatternError(f"invalid regular expression {source[len(REGEX_PREFIX) :]!r}: {exc}{_RE2_HINT}") from None
    return Pattern(source, "re2", has_index, full, scan)


def compile_pattern(source: str, *, allow_index: bool = False) -> Pattern:
    """Compile a glob or ``re:`` pattern. Raises :class:`PatternError` with a plain message."""
    has_index = INDEX_PLACEHOLDER in source
    if has_index and not allow_index:
        raise PatternError("'{i}' is only allowed in layer_decay.layers")
    if source.count(INDEX_PLACEHOLDER) > 1:
        raise PatternError("'{i}' may appear at most once in a pattern")
    if source.startswith(REGEX_PREFIX):
        return _compile_regex(source, has_index)
    try:
        body = glob_to_regex(source, index=has_index)
    except GlobError as exc:
        raise PatternError(f"invalid glob {source!r}: {exc}") from None
    # MULTILINE is not needed: a glob has no ^ or $
    return Pattern(source, "glob", has_index, re.compile(body), re.compile(r"\n(?:" + body + r")(?=\n)"))


class NameIndex:
    """Names prepared for fast matching: joined once (``"\\n" + "\\n".join(names) + "\\n"``),
    then scanned once per pattern (as UTF-8 bytes for RE2)."""

    def __init__(self, names: Sequence[str]):
        self.names = names
        self._text = "\n" + "\n".join(names) + "\n"
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        # offset of the newline that precedes each name
        self._starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(names) else lengths
        self._bytes: tuple[bytes, npt.NDArray[np.int64]] | None = None

    def _encoded(self) -> tuple[bytes, npt.NDArray[np.int64]]:
        """The joined names as UTF-8 and the byte offset at which each name starts."""
        if self._bytes is None:
            data = self._text.encode("utf-8")
            if len(data) == len(self._text):
                starts = self._starts + 1
            else:
                blen = np.fromiter((len(n.encode("utf-8")) for n in self.names), dtype=np.int64, count=len(self.names))
                starts = np.concatenate(([1], 1 + np.cumsum(blen + 1)[:-1])) if len(self.names) else blen
            self._bytes = (data, starts)
        return self._bytes

    def _found(self, pattern: Pattern, want_index: bool) -> tuple[npt.NDArray[np.intp], list[Any]]:
        if pattern.engine == "re2":
            data, starts = self._encoded()
            group = next((v for k, v in pattern.scan.groupindex.items() if k in ("i", b"i")), 0) if want_index else 0
            found = [(m.start(), m.group(group) if want_index else None) for m in pattern.scan.finditer(data)]
            rows = np.searchsorted(starts, np.asarray([f[0] for f in found], dtype=np.int64)).astype(np.intp)
            return rows, [f[1] for f in found]
        found = [(m.start(), m.group("i") if want_index else None) for m in pattern.scan.finditer(self._text)]
        rows = np.searchsorted(self._starts, np.asarray([f[0] for f in found], dtype=np.int64)).astype(np.intp)
        return rows, [f[1] for f in found]

    def match_array(self, pattern: Pattern) -> npt.NDArray[np.intp]:
        """Indices of the names that ``pattern`` matches in full, ascending, as an array."""
        return self._found(pattern, False)[0]

    def matches(self, pattern: Pattern) -> list[int]:
        """Indices of the names that ``pattern`` matches in full, in name order."""
        return [int(k) for k in self.match_array(pattern)]

    def match_indices(self, pattern: Pattern) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
        """For an ``{i}`` pattern: (rows matched, the integer ``{i}`` matched in each).

        Raises PatternError when an integer does not fit in int64."""
        rows, digits = self._found(pattern, True)
        if not digits:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
        values = [int(d) for d in digits]
        big = next((v for v in values if v > INT64_MAX), None)
        if big is not None:
            raise PatternError(f"pattern {pattern.source!r}: the layer index {big} is larger than {INT64_MAX}")
        return rows, np.asarray(values, dtype=np.int64)
