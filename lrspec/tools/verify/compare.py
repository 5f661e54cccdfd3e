"""The comparison of ``lrspec verify``: how far one target's plan group got from the reference.

After every update ``k`` (1 ... steps), per plan group: ``abs`` is the largest
``|p_target - p_reference|``, ``moved`` the largest ``|p_reference - p_initial|``, ``rel =
abs / moved`` (``inf`` when the reference did not move but the target did). The update is
divergent when ``abs > tolerance * moved + k * u * max|p_reference|``, where ``u`` is half an ulp
of the run's dtype (``2**-24`` for float32, ``2**-53`` for float64; the term bounds storage
rounding, half an ulp per update), or when a parameter frozen for every update so far changed
at all (checked bitwise), or a value is not finite.

Default tolerances: :data:`DEFAULT_TOLERANCE` (1e-4) in float32, :data:`F64_TOLERANCE` (1e-10)
in float64, where every target's arithmetic is float64 and the reference's rules are the same
formulas (:func:`default_tolerance`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.tools.verify.report import GroupDivergence

__all__ = [
    "DEFAULT_TOLERANCE",
    "F32_HALF_ULP",
    "F64_HALF_ULP",
    "F64_TOLERANCE",
    "GroupTracker",
    "default_tolerance",
    "half_ulp",
]

Array = npt.NDArray[Any]

DEFAULT_TOLERANCE = 1e-4
"""Default tolerance: a fraction of the distance each group moved."""

F64_TOLERANCE = 1e-10
"""Default tolerance in float64 mode (``dtype="float64"``)."""

F32_HALF_ULP = 2.0**-24
"""Relative rounding of one float32 store (half an ulp)."""

F64_HALF_ULP = 2.0**-53
"""Relative rounding of one float64 store (half an ulp)."""


def default_tolerance(dtype: str) -> float:
    """The default tolerance of a run in ``dtype``: 1e-4 (float32) or 1e-10 (float64)."""
    return F64_TOLERANCE if dtype == "float64" else DEFAULT_TOLERANCE


def half_ulp(dtype: str) -> float:
    """Half an ulp (relative) of ``dtype``: the storage rounding of one update."""
    return F64_HALF_ULP if dtype == "float64" else F32_HALF_ULP


class GroupTracker:
    """Running maxima and the first divergent update of one plan group of one target."""

    def __init__(
        self, name: str, members: Sequence[str], frozen: bool, tolerance: float, rounding: float = F32_HALF_ULP
    ) -> None:
        self.name = name
        self.rounding = rounding
        self.members = list(members)
        self.frozen = frozen
        self.tolerance = tolerance
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.max_moved = 0.0
        self.first_step: int | None = None

    def update(
        self,
        k: int,
        got: Mapping[str, Array],
        ref: Mapping[str, Array],
        init: Mapping[str, Array],
        frozen_so_far: Mapping[str, bool],
    ) -> None:
        abs_err = moved = pmax = 0.0
        bad = False
        for n in self.members:
            g = got[n].astype(np.float64)
            diff = float(np.max(np.abs(g - ref[n]), initial=0.0)) if np.all(np.isfinite(g)) else math.inf
            abs_err = max(abs_err, diff)
            moved = max(moved, float(np.max(np.abs(ref[n] - init[n]), initial=0.0)))
            pmax = max(pmax, float(np.max(np.abs(ref[n]), initial=0.0)))
            if frozen_so_far[n] and not np.array_equal(got[n], init[n]):
                bad = True
        rel = abs_err / moved if moved > 0 else (math.inf if abs_err > 0 else 0.0)
        floor = k * self.rounding * pmax
        if not (abs_err <= self.tolerance * moved + floor):
            bad = True
        self.max_abs = max(self.max_abs, abs_err)
        self.max_rel = max(self.max_rel, rel)
        self.max_moved = max(self.max_moved, moved)
        if bad and self.first_step is None:
            self.first_step = k - 1

    def result(self) -> GroupDivergence:
        return GroupDivergence(
            self.name, len(self.members), self.max_abs, self.max_rel, self.max_moved, self.first_step, self.frozen
        )
