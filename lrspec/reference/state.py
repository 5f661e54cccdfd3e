"""Per-parameter optimizer state and the elementwise helpers every reference rule shares
(torch's operation order: :func:`lerp`, :func:`coupled`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Array", "OptimizerState", "as_float64", "coupled", "lerp"]

Array = npt.NDArray[np.float64]


@dataclass
class OptimizerState:
    """The state one parameter carries between updates.

    ``step`` is the number of updates this parameter has taken (torch's ``state["step"]``;
    torch's SGD and Muon keep no step, but it is counted here too). ``buffers`` holds float64
    arrays under torch's state names (scalars such as NAdam's ``mu_product`` are 0-d arrays).
    """

    step: int = 0
    buffers: dict[str, Array] = field(default_factory=dict)

    def copy(self) -> OptimizerState:
        """A deep copy (the buffers are copied)."""
        return OptimizerState(self.step, {k: v.copy() for k, v in self.buffers.items()})


def lerp(start: Array, end: Array, weight: float) -> Array:
    """torch.lerp: ``start + w*(end - start)`` if ``|w| < 0.5`` else ``end - (end - start)*(1 - w)``."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def coupled(grad: Array, param: Array, weight_decay: float) -> Array:
    """Coupled L2 as torch does it: ``g = grad + wd * p`` (only when ``wd != 0``)."""
    if weight_decay != 0:
        return grad + weight_decay * param
    return grad


def as_float64(value: npt.ArrayLike) -> Array:
    """A float64 copy of ``value``."""
    return np.array(value, dtype=np.float64, copy=True)
