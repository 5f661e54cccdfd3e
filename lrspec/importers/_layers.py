"""Layer-decay entries (``layer_decay.layers``) that reproduce a tool's layer ids.

Given each parameter's layer id (0 = input side), :func:`layer_entries` writes one entry per
layer with the shortest dotted prefixes that cover exactly that layer's parameters
(``blocks.3.*``), then folds runs of consecutive layers ``X.0.*``, ``X.1.*``, ... whose
indices are all the indices the model has under ``X`` into one ``"X.{i}.*"`` entry
(lrspec expands it to one layer per index, sorted numerically); names that the tool joins to
the last layer of such a run (timm's ``MATCH_PREV_GROUP``) follow as
``{params: [...], join: previous}``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from lrspec.importers._common import name_pattern

__all__ = ["layer_entries"]

_INDEXED = re.compile(r"^(?P<head>[A-Za-z0-9_.]*?)\.(?P<i>[0-9]+)\.\*$")


def _prefixes(names: Sequence[str], layer_of: Mapping[str, int]) -> dict[int, list[str]]:
    """Per layer, the patterns (``prefix.*`` or an exact name) covering exactly its names."""
    under: dict[str, set[int]] = defaultdict(set)
    for n in names:
        parts = n.split(".")
        for k in range(1, len(parts)):
            under[".".join(parts[:k])].add(layer_of[n])
    out: dict[int, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for n in names:
        parts = n.split(".")
        pattern = name_pattern(n)
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if under[prefix] == {layer_of[n]}:
                pattern = _under(prefix)
                break
        if pattern not in seen:
            seen.add(pattern)
            out[layer_of[n]].append(pattern)
    return out


def _under(prefix: str) -> str:
    """The pattern of every name under the module ``prefix``."""
    plain = name_pattern(prefix)
    return f"{prefix}.*" if not plain.startswith("re:") else "re:" + re.escape(prefix + ".") + ".*"


def layer_entries(names: Sequence[str], layer_of: Mapping[str, int]) -> list[Any]:
    """The ``layer_decay.layers`` list giving every name of ``names`` the layer ``layer_of[name]``
    (ids 0 .. L-1, every id used)."""
    per_layer = _prefixes(names, layer_of)
    count = max(layer_of.values()) + 1
    entries: list[Any] = []
    k = 0
    while k < count:
        run = _run(per_layer, k, count, names)
        if run is None:
            pats = per_layer[k]
            entries.append(pats[0] if len(pats) == 1 else list(pats))
            k += 1
            continue
        head, last, extra = run
        entries.append(f"{head}.{{i}}.*")
        if extra:
            entries.append({"params": extra, "join": "previous"})
        k = last + 1
    return entries


def _run(per_layer: Mapping[int, list[str]], k: int, count: int, names: Sequence[str]) -> tuple[str, int, list[str]] | None:
    """(X, last layer, extra patterns of the last layer) when layers k, k+1, ... are ``X.0.*``,
    ``X.1.*``, ... covering every index under X; None when there is no run of at least 2."""
    first = per_layer[k]
    m = _INDEXED.match(first[0]) if len(first) == 1 else None
    if m is None or int(m["i"]) != 0:
        return None
    head = m["head"]
    j = k
    extra: list[str] = []
    while j + 1 < count:
        pats = per_layer[j + 1]
        mm = _INDEXED.match(pats[0])
        if mm is None or mm["head"] != head or int(mm["i"]) != j + 1 - k:
            break
        j += 1
        if len(pats) > 1:
            extra = list(pats[1:])
            break
    if j == k:
        return None
    indices = {int(n[len(head) + 1:].split(".")[0]) for n in names
               if n.startswith(head + ".") and n[len(head) + 1:].split(".")[0].isdigit()}
    if indices != set(range(j - k + 1)):
        return None
    return head, j, extra
