"""Layer decay: the cascade's lr times ``rate ** (D - 1 - d)`` for a parameter at layer depth d of D.

Depths come from :func:`lrspec.resolve.matching.layer_depths` (-1: no layer, factor 1).
Permanently frozen parameters keep lr 0 and get no factor. The factor is computed once per
distinct (set of matched groups, layer) combination ("combo").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
    """``rate ** (D - 1 - d)`` for d = 0 .. D-1 (math.pow per exponent: bit-identical to the scalar formula)."""
    return np.array([math.pow(rate, num_layers - 1 - d) for d in range(num_layers)], dtype=np.float64)


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
    factor[decayed] = layer_decay_factors(rate, num_layers)[combo_depth[decayed]]
    return Combos(combo_of_name, combo_match, combo_depth, base_lr[combo_match] * factor)
