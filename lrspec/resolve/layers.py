"""Layer decay: the cascade's lr times ``rate ** (D - 1 - d)`` for a parameter at layer depth d of D.

Depths come from :func:`lrspec.resolve.matching.layer_depths` (-1: no layer, factor 1).
Permanently frozen parameters keep lr 0 and get no factor. A factor or an lr that overflows
to inf or underflows to 0 is a ResolveError (never a silent inf or 0). The factor is computed once per
distinct (set of matched groups, layer) combination ("combo").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lrspec.errors import ResolveError
from lrspec.resolve.cascade import Settings
from lrspec.resolve.matching import first_appearance
from lrspec.spec.models import Spec

__all__ = ["Combos", "layer_decayed"]


@dataclass(frozen=True)
class Combos:
    """The distinct (matched groups, layer) combinations, in first-appearance order.

    ``of_name[k]``: the combo of name k; ``match[c]``/``depth[c]``: the set of matched groups
    (an index into the cascade's settings) and the layer depth of combo c; ``lr[c]``: its lr
    after layer decay.
    """

    of_name: npt.NDArray[np.intp]
    match: npt.NDArray[np.intp]
    depth: npt.NDArray[np.int64]
    lr: npt.NDArray[np.float64]


def layer_decay_factors(rate: float, num_layers: int) -> npt.NDArray[np.float64]:
    """``rate ** (D - 1 - d)`` for d = 0 .. D-1 (math.pow per exponent: bit-identical to the scalar formula).

    Raises ResolveError when a factor overflows or underflows to 0 (a float64 cannot hold it)."""
    out = np.empty(num_layers, dtype=np.float64)
    for d in range(num_layers):
        try:
            out[d] = math.pow(rate, num_layers - 1 - d)
        except OverflowError:
            out[d] = math.inf
        if not math.isfinite(out[d]) or out[d] == 0:
            kind = "overflows to inf" if out[d] != 0 else "underflows to 0"
            raise ResolveError(
                f"layer_decay: the factor of layer {d} of {num_layers}, rate ** {num_layers - 1 - d} = "
                f"{rate!r} ** {num_layers - 1 - d}, {kind} (outside the range of a float64)"
            )
    return out


def layer_decayed(
    spec: Spec,
    bases: Sequence[Settings],
    match_of_name: npt.NDArray[np.intp],
    depth: npt.NDArray[np.int64],
    num_layers: int,
) -> Combos:
    """The combos of the names and the lr of each after layer decay."""
    combo_keys = match_of_name.astype(np.int64) * (num_layers + 1) + (depth + 1)
    combo_rows, combo_of_name = first_appearance(combo_keys)
    combo_match = match_of_name[combo_rows]
    combo_depth = depth[combo_rows]
    rate = spec.layer_decay.rate if spec.layer_decay is not None else 1.0
    base_lr = np.array([b.lr for b in bases], dtype=np.float64)
    base_frozen = np.array([b.frozen for b in bases], dtype=bool)
    factor = np.ones(len(combo_rows), dtype=np.float64)
    decayed = (combo_depth >= 0) & ~base_frozen[combo_match]
    if decayed.any():
        factor[decayed] = layer_decay_factors(rate, num_layers)[combo_depth[decayed]]
    with np.errstate(over="ignore", under="ignore"):
        lr = base_lr[combo_match] * factor
    bad = np.flatnonzero(decayed & (~np.isfinite(lr) | (lr == 0)))
    if len(bad):
        c = int(bad[0])
        b = bases[int(combo_match[c])]
        raise ResolveError(
            f"layer_decay: the lr of the parameters matched by {f'groups {list(b.names)}' if b.names else 'no group'} "
            f"at layer {int(combo_depth[c])}, {b.lr!r} * {float(factor[c])!r}, {'overflows to inf' if lr[c] != 0 else 'underflows to 0'} "
            "(outside the range of a float64)"
        )
    return Combos(combo_of_name, combo_match, combo_depth, lr)
