"""The comparison of ``lrspec verify``: how far one target's plan group got from the reference.

After every update ``k`` (1 ... steps), per plan group: ``abs`` is the largest
``|p_target - p_reference|``, ``moved`` the largest ``|p_reference - p_initial|``, ``rel =
abs / moved`` (``inf`` when the reference did not move but the target did). The update is
divergent when ``abs > tolerance * moved + k * 2**-24 * max|p_reference|`` (the last term
bounds float32 storage rounding, half an ulp per update), or when a parameter frozen for every
update so far changed at all (checked bitwise), or a value is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.tools.verify.report import GroupDivergence

__all__ = ["DEFAULT_TOLERANCE", "F32_HALF_ULP", "GroupTracker"]

Array = npt.NDArray[Any]

DEFAULT_TOLERANCE = 1e-4
"""Default tolerance: a fraction of the distance each group moved."""

F32_HALF_ULP = 2.0**-24
"""Relative rounding of one float32 store (half an ulp)."""


class GroupTracker:
    """Running maxima and the first divergent update of one plan group of one target."""

    def __init__(self, name: str, members: Sequence[str], frozen: bool, tolerance: float) -> None:
        self.name = name
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
        floor = k * F32_HALF_ULP * pmax
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
