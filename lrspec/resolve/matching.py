"""Matching: which spec groups and which layer-decay layer each parameter name falls in.

Names are matched with one regex scan per pattern (:class:`~lrspec.spec.patterns.NameIndex`).
Every problem (a pattern of a non-optional group or of ``layer_decay`` that matches nothing,
unmatched parameters under ``unmatched: error``) is collected, so that one
:class:`~lrspec.ResolveError` reports them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lrspec.spec.models import Spec
from lrspec.spec.patterns import NameIndex, PatternError, compile_pattern

__all__ = ["first_appearance", "layer_depths", "match_groups", "unmatched_errors"]


HINTED_PATTERNS = 5
"""Patterns that match nothing get a "closest names" hint only for the first few (each costs a
fuzzy search), so that 200 mistyped patterns against 100k names still report at once."""
HINT_POOL = 5000
"""The fuzzy search looks at this many names at most; beyond it, at name shapes (digit runs
folded to ``0``, deduplicated: a transformer's 100k names are a few dozen shapes)."""


class _Hints:
    """The "; closest names: ...; the parameters are: ..." tail of a no-match error: the
    listing and the fuzzy pool built once per resolve, the search run for the first
    :data:`HINTED_PATTERNS` patterns only."""

    def __init__(self, names: Sequence[str]):
        self.names = names
        self.used = 0
        self._shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
        self._pool: dict[str, str] | None = None

    def _closest(self, word: str) -> list[str]:
        fold = len(self.names) > HINT_POOL
        if self._pool is None:
            pool: dict[str, str] = {}
            for name in self.names:
                pool.setdefault(_DIGITS.sub("0", name) if fold else name, name)
                if len(pool) >= HINT_POOL:
                    break
            self._pool = pool
        query = word.replace("*", "")[:200]
        query = _DIGITS.sub("0", query) if fold else query
        return [self._pool[k] for k in difflib.get_close_matches(query, list(self._pool), n=3, cutoff=0.5)]

    def __call__(self, pattern: str) -> str:
        self.used += 1
        close = self._closest(pattern) if self.used <= HINTED_PATTERNS else []
        hint = f"; closest names: {', '.join(close)}" if close else ""
        return f"{hint}; the parameters are: {self._shown}"


_DIGITS = re.compile(r"[0-9]+")


def layer_depths(
    spec: Spec, names: Sequence[str], index: NameIndex, hints: _Hints | None = None
) -> tuple[npt.NDArray[np.int64], list[str], list[str]]:
    """Per-name layer depth (-1: no layer) and the expanded layer labels, input side first.

    Patterns are tried in order; the first that matches a name decides its layer. A ``{i}``
    pattern expands to one layer per distinct integer found (ascending, among the names it
    decides), labelled with ``{i}`` replaced by the integer.
    """
    depth = np.full(len(names), -1, dtype=np.int64)
    errors: list[str] = []
    if spec.layer_decay is None:
        return depth, [], errors
    labels: list[str] = []
    hints = hints or _Hints(names)
    for j, source in enumerate(spec.layer_decay.layers):
        pattern = compile_pattern(source, allow_index=True)
        if pattern.has_index:
            try:
                rows, values = index.match_indices(pattern)
            except PatternError as exc:
                errors.append(f"layer_decay.layers[{j}]: {exc}")
                continue
        else:
            rows, values = index.match_array(pattern), None
        if len(rows) == 0:
            errors.append(f"layer_decay.layers[{j}]: pattern {source!r} matches no parameter" + hints(source))
            continue
        free = depth[rows] < 0  # names an earlier pattern decided keep their layer
        rows = rows[free]
        if values is None:
            if len(rows):
                depth[rows] = len(labels)
                labels.append(source)
            continue
        values = values[free]
        found = np.unique(values)
        depth[rows] = len(labels) + np.searchsorted(found, values)
        labels += [source.replace("{i}", str(int(i))) for i in found]
    return depth, labels, errors


def match_groups(
    spec: Spec, names: Sequence[str], index: NameIndex, hints: _Hints | None = None
) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """(``matched[name, group]``: whether group ``group``'s patterns match ``name``, errors).

    A pattern of a non-optional group that matches no parameter is an error. The matrix has
    at least one column, so that it is never empty.
    """
    groups = spec.groups
    matched = np.zeros((len(names), max(len(groups), 1)), dtype=bool)
    errors: list[str] = []
    hints = hints or _Hints(names)
    for gi, group in enumerate(groups):
        for j, source in enumerate(group.params):
            hits = index.match_array(compile_pattern(source))
            if len(hits):
                matched[hits, gi] = True
            elif not group.optional:
                errors.append(
                    f"groups[{gi}].params[{j}] (group {group.name!r}): pattern {source!r} matches no parameter"
                    + hints(source)
                    + " (set optional: true on the group to allow this)"
                )
    return matched, errors


def unmatched_errors(spec: Spec, names: Sequence[str], matched: npt.NDArray[np.bool_]) -> list[str]:
    """Under ``unmatched: error``, the parameters no group matches (as one error); else none."""
    if spec.unmatched != "error":
        return []
    groups = spec.groups
    if not groups:
        return [f"unmatched: error, but the spec has no groups, so all {len(names)} parameters are unmatched"]
    unmatched_rows = np.flatnonzero(~matched[:, : len(groups)].any(axis=1))
    if not len(unmatched_rows):
        return []
    shown = [names[k] for k in unmatched_rows[:20]]
    more = f", ... ({len(unmatched_rows)} in all)" if len(unmatched_rows) > 20 else ""
    return [f"unmatched: error, and {len(unmatched_rows)} parameter(s) match no group: {', '.join(shown)}{more}"]


def first_appearance(keys: npt.NDArray[np.generic]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(first row of each distinct key in first-appearance order, id of each row's key in that order)."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()]
