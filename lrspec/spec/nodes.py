"""The leaves of the spec format: the base model, number types and schedules.

Re-exported by :mod:`lrspec.spec.models` (import them from there); kept apart only so that
each module stays small (the optimizer nodes are in :mod:`lrspec.spec.optimizers`, groups
and layer decay in :mod:`lrspec.spec.groups`). Every node forbids unknown keys and is
immutable; field descriptions double as editor tooltips in the generated JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "Beta",
    "Betas",
    "ConstantSchedule",
    "CosineSchedule",
    "ExponentialSchedule",
    "InverseTimeSchedule",
    "LinearSchedule",
    "MultiStepSchedule",
    "NonNegFloat",
    "INT64_MAX",
    "NonNegInt",
    "PiecewiseSchedule",
    "PolynomialSchedule",
    "PosFloat",
    "PosInt",
    "Schedule",
    "SequenceSchedule",
    "SpecNode",
    "StepSchedule",
    "WarmupSchedule",
]


class SpecNode(BaseModel):
    """Base of every spec node: unknown keys are errors, instances are immutable,
    NaN/inf are rejected, and no silent type coercion (``"0.1"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=False)


PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
INT64_MAX = 2**63 - 1
"""The largest integer setting (step counts, boundaries): every framework stores them as int64."""


def _int64(value: int) -> int:
    if value > INT64_MAX:
        raise PydanticCustomError(
            "int64_range",
            "must be at most 2**63 - 1 = {limit} (an int64), got {digits}",
            {
                "limit": INT64_MAX,
                "digits": str(value) if len(str(value)) <= 30 else f"a {len(str(value))}-digit integer",
            },
        )
    return value


PosInt = Annotated[int, Field(gt=0), AfterValidator(_int64)]
NonNegInt = Annotated[int, Field(ge=0), AfterValidator(_int64)]
Beta = Annotated[float, Field(ge=0, lt=1)]


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


Betas = Annotated[tuple[Beta, Beta], BeforeValidator(_list_to_tuple)]

# --------------------------------------------------------------------------------------
# Schedules: multipliers m(t) of a group's lr. Formulas live in lrspec.schedules.
# --------------------------------------------------------------------------------------


class ConstantSchedule(SpecNode):
    """m(t) = value."""

    type: Literal["constant"] = Field(description="Constant multiplier: m(t) = value.")
    value: PosFloat = Field(1.0, description="The multiplier (> 0).")


class ExponentialSchedule(SpecNode):
    """m(t) = decay_rate ** (t / decay_steps), with floor(t / decay_steps) when staircase."""

    type: Literal["exponential"] = Field(
        description="m(t) = decay_rate^(t/decay_steps) (floor() when staircase); tf.compat.v1.train.exponential_decay."
    )
    decay_rate: PosFloat = Field(description="Factor per decay_steps updates (> 0).")
    decay_steps: PosInt = Field(description="Updates per factor of decay_rate (> 0).")
    staircase: bool = Field(False, description="Decay in discrete jumps: floor(t/decay_steps).")


class StepSchedule(SpecNode):
    """m(t) = gamma ** floor(t / step_size) (torch StepLR)."""

    type: Literal["step"] = Field(description="m(t) = gamma^floor(t/step_size) (torch StepLR).")
    step_size: PosInt = Field(description="Updates between two decays (> 0).")
    gamma: PosFloat = Field(0.1, description="Factor applied every step_size updates.")


class MultiStepSchedule(SpecNode):
    """m(t) = gamma ** (number of milestones <= t) (torch MultiStepLR)."""

    type: Literal["multistep"] = Field(description="m(t) = gamma^(number of milestones <= t) (torch MultiStepLR).")
    milestones: list[NonNegInt] = Field(
        min_length=1, description="Strictly increasing update counts at which lr is multiplied by gamma."
    )
    gamma: PosFloat = Field(0.1, description="Factor applied at every milestone.")


class PiecewiseSchedule(SpecNode):
    """m(t) = values[i] for boundaries[i-1] <= t < boundaries[i]."""

    type: Literal["piecewise"] = Field(
        description="m(t) = values[i] for boundaries[i-1] <= t < boundaries[i] "
        "(TF's piecewise_constant switches one update later)."
    )
    boundaries: list[PosInt] = Field(min_length=1, description="Strictly increasing update counts b1 < ... < bn.")
    values: list[NonNegFloat] = Field(
        min_length=2, description="n+1 multipliers: values[0] before b1, values[n] from bn on."
    )


class CosineSchedule(SpecNode):
    """m(t) = min_mult + (1 - min_mult) * (1 + cos(pi * min(t, T) / T)) / 2, held after T."""

    type: Literal["cosine"] = Field(
        description="m(t) = min_mult + (1-min_mult)*(1+cos(pi*min(t,T)/T))/2, held at min_mult after T."
    )
    decay_steps: PosInt = Field(description="T: updates to go from 1 to min_mult (> 0).")
    min_mult: NonNegFloat = Field(0.0, description="Final multiplier (>= 0).")


class PolynomialSchedule(SpecNode):
    """m(t) = end_mult + (1 - end_mult) * (1 - min(t, T) / T) ** power."""

    type: Literal["polynomial"] = Field(description="m(t) = end_mult + (1-end_mult)*(1-min(t,T)/T)^power.")
    decay_steps: PosInt = Field(description="T: updates to reach end_mult (> 0).")
    power: PosFloat = Field(1.0, description="Exponent of the decay (> 0).")
    end_mult: NonNegFloat = Field(0.0, description="Final multiplier (>= 0).")


class LinearSchedule(SpecNode):
    """m(t) = start_mult + (end_mult - start_mult) * min(t, steps) / steps."""

    type: Literal["linear"] = Field(
        description="m(t) = start_mult + (end_mult-start_mult)*min(t,steps)/steps (increasing is allowed)."
    )
    start_mult: NonNegFloat = Field(description="Multiplier at t = 0.")
    end_mult: NonNegFloat = Field(description="Multiplier from t = steps on.")
    steps: PosInt = Field(description="Updates to go from start_mult to end_mult (> 0).")


class InverseTimeSchedule(SpecNode):
    """m(t) = 1 / (1 + decay_rate * t / decay_steps), floor(t / decay_steps) when staircase."""

    type: Literal["inverse_time"] = Field(
        description="m(t) = 1/(1 + decay_rate*t/decay_steps) (floor() when staircase)."
    )
    decay_rate: PosFloat = Field(description="Decay rate (> 0).")
    decay_steps: PosInt = Field(description="Update count unit (> 0).")
    staircase: bool = Field(False, description="Decay in discrete jumps: floor(t/decay_steps).")


class SequenceSchedule(SpecNode):
    """m(t) = schedules[i](t - b_i) for b_i <= t < b_{i+1}, with b_0 = 0 (optax join_schedules)."""

    type: Literal["sequence"] = Field(
        description="m(t) = schedules[i](t - b_i) for b_i <= t < b_(i+1), b_0 = 0; each piece restarts at 0."
    )
    schedules: list[Schedule] = Field(min_length=1, description="The pieces s0 ... sn.")
    boundaries: list[PosInt] = Field(
        description="n strictly increasing update counts b1 < ... < bn where the next piece starts."
    )


class WarmupSchedule(SpecNode):
    """Shorthand for ``sequence([linear(start_mult, 1, steps), then], [steps])``."""

    type: Literal["warmup"] = Field(
        description="Linear warmup from start_mult to 1 over `steps` updates, then `then(t - steps)`."
    )
    steps: PosInt = Field(description="Warmup length in updates (> 0).")
    start_mult: NonNegFloat = Field(0.0, description="Multiplier at t = 0.")
    then: Schedule = Field(
        default_factory=lambda: ConstantSchedule(type="constant"),
        description="Schedule after warmup, evaluated at t - steps (default: constant 1).",
    )


Schedule = Annotated[
    Union[
        ConstantSchedule,
        ExponentialSchedule,
        StepSchedule,
        MultiStepSchedule,
        PiecewiseSchedule,
        CosineSchedule,
        PolynomialSchedule,
        LinearSchedule,
        InverseTimeSchedule,
        SequenceSchedule,
        WarmupSchedule,
    ],
    Field(discriminator="type"),
]
"""Any schedule node, selected by its ``type``."""

SequenceSchedule.model_rebuild()
WarmupSchedule.model_rebuild()
