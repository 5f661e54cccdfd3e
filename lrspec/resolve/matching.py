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
from functools import cached_property

import numpy as np
import numpy.typing as npt

from lrspec.resolve.params import ModuleInfo, Shape
from lrspec.spec.models import Group, Spec
from lrspec.spec.patterns import NameIndex, PatternError, compile_pattern

__all__ = ["CLASS_PREFIX", "ParamFacts", "first_appearance", "layer_depths", "match_groups", "unmatched_errors"]


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

    Entries are tried in order; the first that matches a name decides its layer. An entry is
    one layer (all its patterns), or joins the layer before it (``join: previous``: the last
    layer so far, e.g. the last expanded ``{i}`` layer). A ``{i}`` pattern (alone in its entry)
    expands to one layer per distinct integer found (numerically ascending, among the names it
    decides), labelled with ``{i}`` replaced by the integer. An entry whose names all were
    decided earlier adds no layer. Patterns that match nothing are errors unless the entry is
    ``optional``. With ``unmatched: last``, the names no entry matches form one
    more layer after the last (timm's rule); with ``none`` they have no layer (factor 1).
    """
    depth = np.full(len(names), -1, dtype=np.int64)
    errors: list[str] = []
    if spec.layer_decay is None:
        return depth, [], errors
    labels: list[str] = []
    hints = hints or _Hints(names)
    for j, (sources, join, optional) in enumerate(spec.layer_decay.entries()):
        where = f"layer_decay.layers[{j}]"
        if len(sources) == 1 and not join and compile_pattern(sources[0], allow_index=True).has_index:
            try:
                rows, values = index.match_indices(compile_pattern(sources[0], allow_index=True))
            except PatternError as exc:
                errors.append(f"{where}: {exc}")
                continue
            if len(rows) == 0:
                if not optional:
                    errors.append(f"{where}: pattern {sources[0]!r} matches no parameter" + hints(sources[0]))
                continue
            free = depth[rows] < 0  # names an earlier entry decided keep their layer
            rows, values = rows[free], values[free]
            found = np.unique(values)
            depth[rows] = len(labels) + np.searchsorted(found, values)
            labels += [sources[0].replace("{i}", str(int(i))) for i in found]
            continue
        hit_rows: list[npt.NDArray[np.intp]] = []
        for k, source in enumerate(sources):
            found_rows = index.match_array(compile_pattern(source, allow_index=True))
            if len(found_rows) == 0 and not optional:
                at = where if len(sources) == 1 and not join else f"{where}.params[{k}]" if join else f"{where}[{k}]"
                errors.append(f"{at}: pattern {source!r} matches no parameter" + hints(source))
            hit_rows.append(found_rows)
        rows = np.unique(np.concatenate(hit_rows)) if hit_rows else np.empty(0, dtype=np.intp)
        rows = rows[depth[rows] < 0]
        if not len(rows):
            continue
        label = ", ".join(sources)
        if join and labels:
            depth[rows] = len(labels) - 1
            labels[-1] += f" + {label}"
        elif join:
            errors.append(f"{where}: join: previous, but no earlier entry matched a parameter (no layer to join)")
        else:
            depth[rows] = len(labels)
            labels.append(label)
    if spec.layer_decay.unmatched == "last":
        rest = depth < 0
        if rest.any():
            depth[rest] = len(labels)
            labels.append("(unmatched)")
    return depth, labels, errors


class ParamFacts:
    """What the ``ndim`` and ``modules`` selectors read: per-name number of dimensions and owning
    module, as arrays computed once (and only when a spec uses the selector)."""

    def __init__(self, names: Sequence[str], shapes: Sequence[Shape | None], modules: Sequence[ModuleInfo | None]):
        self.names = names
        self.shapes = shapes
        self.modules = modules

    @cached_property
    def ndim(self) -> npt.NDArray[np.int64]:
        """Number of dimensions per name (-1: shape unknown)."""
        return np.fromiter((-1 if s is None else len(s) for s in self.shapes), dtype=np.int64, count=len(self.shapes))

    @cached_property
    def _module_table(self) -> tuple[list[ModuleInfo], npt.NDArray[np.int64]]:
        ids: dict[ModuleInfo, int] = {}
        of_name = np.fromiter(
            (-1 if m is None else ids.setdefault(m, len(ids)) for m in self.modules),
            dtype=np.int64,
            count=len(self.modules),
        )
        return list(ids), of_name

    def unknown(self, what: str) -> list[str]:
        """The names whose shape (``what="ndim"``) or module (``"modules"``) is unknown."""
        if what == "ndim":
            return [self.names[k] for k in np.flatnonzero(self.ndim < 0).tolist()]
        return [self.names[k] for k in np.flatnonzero(self._module_table[1] < 0).tolist()]

    def ndim_mask(self, ndims: Sequence[int]) -> npt.NDArray[np.bool_]:
        return np.isin(self.ndim, np.asarray(ndims, dtype=np.int64))

    def module_mask(self, selectors: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Names whose module has one of the roles, or one of the ``class:Name`` classes."""
        table, of_name = self._module_table
        roles = {s for s in selectors if not s.startswith(CLASS_PREFIX)}
        classes = {s[len(CLASS_PREFIX) :] for s in selectors if s.startswith(CLASS_PREFIX)}
        hits = [k for k, m in enumerate(table) if (roles & m.roles) or classes.intersection(m.classes)]
        return np.isin(of_name, np.asarray(hits, dtype=np.int64))


CLASS_PREFIX = "class:"


def _selector_errors(spec: Spec, facts: ParamFacts) -> list[str]:
    """ndim / modules selectors used where the parameter list lacks shapes / module info."""
    errors: list[str] = []
    for what, needs in (("ndim", "shapes"), ("modules", "module info")):
        users = [g.name for g in spec.groups if getattr(g, what) is not None]
        if not users:
            continue
        unknown = facts.unknown(what)
        if unknown:
            shown = ", ".join(unknown[:8]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 8 else "")
            source = (
                "pass a mapping name -> shape (or a target's parameters(model))"
                if what == "ndim"
                else "pass the target's parameters(model) (torch and Keras give module info) or a parameter "
                "file with module info"
            )
            errors.append(
                f"group(s) {', '.join(map(repr, users))} select by {what}, but the parameter list has no {needs} "
                f"for {shown}; {source}"
            )
    return errors


def match_groups(
    spec: Spec, names: Sequence[str], index: NameIndex, hints: _Hints | None = None, facts: ParamFacts | None = None
) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """(``matched[name, group]``: whether group ``group`` matches ``name``, errors).

    A group matches a name when one of its patterns does and, with ``ndim``/``modules``,
    the parameter has one of the listed numbers of dimensions / its module one of the listed
    roles or classes (read from ``facts``). A pattern of a non-optional group that matches no
    parameter (after those selectors) is an error; so is a selector without the shapes /
    module info it reads. The matrix has at least one column, so that it is never empty.
    """
    groups = spec.groups
    matched = np.zeros((len(names), max(len(groups), 1)), dtype=bool)
    hints = hints or _Hints(names)
    errors = _selector_errors(spec, facts) if facts is not None else []
    if errors:
        return matched, errors
    for gi, group in enumerate(groups):
        mask: npt.NDArray[np.bool_] | None = None
        ndims = group.ndims()
        if facts is not None and ndims is not None:
            mask = facts.ndim_mask(ndims)
        if facts is not None and group.modules is not None:
            modules = facts.module_mask(group.modules)
            mask = modules if mask is None else mask & modules
        for j, source in enumerate(group.params):
            hits = index.match_array(compile_pattern(source))
            if mask is not None and len(hits):
                selected = hits[mask[hits]]
                if not len(selected) and not group.optional:
                    errors.append(
                        f"groups[{gi}].params[{j}] (group {group.name!r}): pattern {source!r} matches "
                        f"{len(hits)} parameter(s) ({', '.join(names[k] for k in hits[:3].tolist())}"
                        f"{', ...' if len(hits) > 3 else ''}) but none with {_selector_text(group)}"
                        " (set optional: true on the group to allow this)"
                    )
                    continue
                hits = selected
            if len(hits):
                matched[hits, gi] = True
            elif not group.optional:
                errors.append(
                    f"groups[{gi}].params[{j}] (group {group.name!r}): pattern {source!r} matches no parameter"
                    + hints(source)
                    + " (set optional: true on the group to allow this)"
                )
    return matched, errors


def _selector_text(group: Group) -> str:
    parts = []
    ndims = group.ndims()
    if ndims is not None:
        parts.append(f"ndim {' or '.join(map(str, ndims))}")
    if group.modules is not None:
        parts.append(f"modules {', '.join(group.modules)}")
    return " and ".join(parts)


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
