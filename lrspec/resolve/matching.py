"""Matching: which spec groups and which layer-decay layer each parameter name falls in.

Names are matched with one regex scan per pattern (:class:`~lrspec.spec.patterns.NameIndex`).
Every problem (a pattern of a non-optional group or of ``layer_decay`` that matches nothing,
unmatched parameters under ``unmatched: error``) is collected, so that one
:class:`~lrspec.ResolveError` reports them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lrspec.spec.models import Spec
from lrspec.spec.patterns import NameIndex, compile_pattern

__all__ = ["first_appearance", "layer_depths", "match_groups", "unmatched_errors"]


def _closest(word: str, names: Sequence[str]) -> list[str]:
    pool = names if len(names) <= 5000 else names[:5000]
    return difflib.get_close_matches(word.replace("*", ""), list(pool), n=3, cutoff=0.5)


def _names_hint(names: Sequence[str], pattern: str) -> str:
    close = _closest(pattern, names)
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    hint = f"; closest names: {', '.join(close)}" if close else ""
    return f"{hint}; the parameters are: {shown}"


def layer_depths(
    spec: Spec, names: Sequence[str], index: NameIndex
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
    for j, source in enumerate(spec.layer_decay.layers):
        pattern = compile_pattern(source, allow_index=True)
        if pattern.has_index:
            rows, values = index.match_indices(pattern)
        else:
            rows, values = index.match_array(pattern), None
        if len(rows) == 0:
            errors.append(
                f"layer_decay.layers[{j}]: pattern {source!r} matches no parameter" + _names_hint(names, source)
            )
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


def match_groups(spec: Spec, names: Sequence[str], index: NameIndex) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """(``matched[name, group]``: whether group ``group``'s patterns match ``name``, errors).

    A pattern of a non-optional group that matches no parameter is an error. The matrix has
    at least one column, so that it is never empty.
    """
    groups = spec.groups
    matched = np.zeros((len(names), max(len(groups), 1)), dtype=bool)
    errors: list[str] = []
    for gi, group in enumerate(groups):
        for j, source in enumerate(group.params):
            hits = index.match_array(compile_pattern(source))
            if len(hits):
                matched[hits, gi] = True
            elif not group.optional:
                errors.append(
                    f"groups[{gi}].params[{j}] (group {group.name!r}): pattern {source!r} matches no parameter"
                    + _names_hint(names, source)
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
