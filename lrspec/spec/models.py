"""The lrspec spec language, version 1, as pydantic models.

These models are the single definition of the format: the JSON Schema in
``schemas/lrspec-v1.schema.json`` is generated from them (``lrspec schema``), and the
loader (:mod:`lrspec.spec.loader`) validates files with them. Every model forbids unknown keys
and is immutable. Field descriptions double as editor tooltips.

Use :meth:`Spec.model_validate` (or :func:`lrspec.load`): it raises :class:`lrspec.SpecError`
listing every problem with its location instead of pydantic's ``ValidationError``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

__all__ = [
    "FAMILY_HYPERPARAMETERS",
    "AdagradOptimizer",
    "AdamOptimizer",
    "AdamWOptimizer",
    "ConstantSchedule",
    "CosineSchedule",
    "ExponentialSchedule",
    "FreezeUntil",
    "Group",
    "InverseTimeSchedule",
    "LayerDecay",
    "LinearSchedule",
    "MultiStepSchedule",
    "OptimizerSpec",
    "PiecewiseSchedule",
    "PolynomialSchedule",
    "RMSpropOptimizer",
    "SGDOptimizer",
    "Schedule",
    "SequenceSchedule",
    "Spec",
    "StepSchedule",
    "WarmupSchedule",
]


class _Model(BaseModel):
    """Base of every spec node: unknown keys are errors, instances are immutable,
    NaN/inf are rejected, and no silent type coercion (``"0.1"`` is not a number)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=False
    )


PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
Beta = Annotated[float, Field(ge=0, lt=1)]


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


Betas = Annotated[tuple[Beta, Beta], BeforeValidator(_list_to_tuple)]

# --------------------------------------------------------------------------------------
# Schedules: multipliers m(t) of a group's lr. Formulas live in lrspec.schedules.
# --------------------------------------------------------------------------------------


class ConstantSchedule(_Model):
    """m(t) = value."""

    type: Literal["constant"] = Field(description="Constant multiplier: m(t) = value.")
    value: PosFloat = Field(1.0, description="The multiplier (> 0).")


class ExponentialSchedule(_Model):
    """m(t) = decay_rate ** (t / decay_steps), with floor(t / decay_steps) when staircase."""

    type: Literal["exponential"] = Field(
        description="m(t) = decay_rate^(t/decay_steps) (floor() when staircase); "
        "tf.compat.v1.train.exponential_decay."
    )
    decay_rate: PosFloat = Field(description="Factor per decay_steps updates (> 0).")
    decay_steps: PosInt = Field(description="Updates per factor of decay_rate (> 0).")
    staircase: bool = Field(False, description="Decay in discrete jumps: floor(t/decay_steps).")


class StepSchedule(_Model):
    """m(t) = gamma ** floor(t / step_size) (torch StepLR)."""

    type: Literal["step"] = Field(description="m(t) = gamma^floor(t/step_size) (torch StepLR).")
    step_size: PosInt = Field(description="Updates between two decays (> 0).")
    gamma: PosFloat = Field(0.1, description="Factor applied every step_size updates.")


class MultiStepSchedule(_Model):
    """m(t) = gamma ** (number of milestones <= t) (torch MultiStepLR)."""

    type: Literal["multistep"] = Field(
        description="m(t) = gamma^(number of milestones <= t) (torch MultiStepLR)."
    )
    milestones: list[NonNegInt] = Field(
        min_length=1, description="Strictly increasing update counts at which lr is multiplied by gamma."
    )
    gamma: PosFloat = Field(0.1, description="Factor applied at every milestone.")


class PiecewiseSchedule(_Model):
    """m(t) = values[i] for boundaries[i-1] <= t < boundaries[i]."""

    type: Literal["piecewise"] = Field(
        description="m(t) = values[i] for boundaries[i-1] <= t < boundaries[i] "
        "(TF's piecewise_constant switches one update later)."
    )
    boundaries: list[PosInt] = Field(min_length=1, description="Strictly increasing update counts b1 < ... < bn.")
    values: list[NonNegFloat] = Field(
        min_length=2, description="n+1 multipliers: values[0] before b1, values[n] from bn on."
    )


class CosineSchedule(_Model):
    """m(t) = min_mult + (1 - min_mult) * (1 + cos(pi * min(t, T) / T)) / 2, held after T."""

    type: Literal["cosine"] = Field(
        description="m(t) = min_mult + (1-min_mult)*(1+cos(pi*min(t,T)/T))/2, held at min_mult after T."
    )
    decay_steps: PosInt = Field(description="T: updates to go from 1 to min_mult (> 0).")
    min_mult: NonNegFloat = Field(0.0, description="Final multiplier (>= 0).")


class PolynomialSchedule(_Model):
    """m(t) = end_mult + (1 - end_mult) * (1 - min(t, T) / T) ** power."""

    type: Literal["polynomial"] = Field(
        description="m(t) = end_mult + (1-end_mult)*(1-min(t,T)/T)^power."
    )
    decay_steps: PosInt = Field(description="T: updates to reach end_mult (> 0).")
    power: PosFloat = Field(1.0, description="Exponent of the decay (> 0).")
    end_mult: NonNegFloat = Field(0.0, description="Final multiplier (>= 0).")


class LinearSchedule(_Model):
    """m(t) = start_mult + (end_mult - start_mult) * min(t, steps) / steps."""

    type: Literal["linear"] = Field(
        description="m(t) = start_mult + (end_mult-start_mult)*min(t,steps)/steps (increasing is allowed)."
    )
    start_mult: NonNegFloat = Field(description="Multiplier at t = 0.")
    end_mult: NonNegFloat = Field(description="Multiplier from t = steps on.")
    steps: PosInt = Field(description="Updates to go from start_mult to end_mult (> 0).")


class InverseTimeSchedule(_Model):
    """m(t) = 1 / (1 + decay_rate * t / decay_steps), floor(t / decay_steps) when staircase."""

    type: Literal["inverse_time"] = Field(
        description="m(t) = 1/(1 + decay_rate*t/decay_steps) (floor() when staircase)."
    )
    decay_rate: PosFloat = Field(description="Decay rate (> 0).")
    decay_steps: PosInt = Field(description="Update count unit (> 0).")
    staircase: bool = Field(False, description="Decay in discrete jumps: floor(t/decay_steps).")


class SequenceSchedule(_Model):
    """m(t) = schedules[i](t - b_i) for b_i <= t < b_{i+1}, with b_0 = 0 (optax join_schedules)."""

    type: Literal["sequence"] = Field(
        description="m(t) = schedules[i](t - b_i) for b_i <= t < b_(i+1), b_0 = 0; each piece restarts at 0."
    )
    schedules: list[Schedule] = Field(min_length=1, description="The pieces s0 ... sn.")
    boundaries: list[PosInt] = Field(
        description="n strictly increasing update counts b1 < ... < bn where the next piece starts."
    )


class WarmupSchedule(_Model):
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

# --------------------------------------------------------------------------------------
# Optimizers: one family per spec; defaults are torch.optim's.
# --------------------------------------------------------------------------------------

FAMILY_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "dampening", "nesterov"),
    "adam": ("betas", "eps", "amsgrad"),
    "adamw": ("betas", "eps", "amsgrad"),
    "rmsprop": ("alpha", "eps", "momentum", "centered"),
    "adagrad": ("lr_decay", "eps", "initial_accumulator_value"),
}
"""Family hyperparameters (besides lr and weight_decay) by optimizer type, torch's names."""

_LR = Field(description="Base learning rate (> 0).")
_WD_COUPLED = Field(description="L2 penalty added to the gradient (coupled), >= 0.")


class SGDOptimizer(_Model):
    """torch.optim.SGD: coupled weight decay, momentum with dampening, optional Nesterov."""

    type: Literal["sgd"] = Field(description="torch.optim.SGD.")
    lr: PosFloat = Field(1e-3, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    momentum: NonNegFloat = Field(0.0, description="Momentum factor (>= 0).")
    dampening: NonNegFloat = Field(0.0, description="Dampening for momentum (not applied on the first update).")
    nesterov: bool = Field(False, description="Nesterov momentum (needs momentum > 0 and dampening = 0).")


class AdamOptimizer(_Model):
    """torch.optim.Adam: coupled weight decay, eps added after the bias correction."""

    type: Literal["adam"] = Field(description="torch.optim.Adam (weight decay is coupled L2).")
    lr: PosFloat = Field(1e-3, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    betas: Betas = Field((0.9, 0.999), description="Coefficients of the running averages, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to sqrt(v)/sqrt(1-beta2^s) (torch's convention).")
    amsgrad: bool = Field(False, description="Use the running maximum of v (AMSGrad).")


class AdamWOptimizer(_Model):
    """torch.optim.AdamW: decoupled weight decay p *= 1 - lr*wd before the Adam step."""

    type: Literal["adamw"] = Field(description="torch.optim.AdamW (decoupled weight decay).")
    lr: PosFloat = Field(1e-3, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(1e-2, description="Decoupled decay: p *= 1 - lr*wd.")
    betas: Betas = Field((0.9, 0.999), description="Coefficients of the running averages, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to sqrt(v)/sqrt(1-beta2^s) (torch's convention).")
    amsgrad: bool = Field(False, description="Use the running maximum of v (AMSGrad).")


class RMSpropOptimizer(_Model):
    """torch.optim.RMSprop: eps outside the square root, lr outside the momentum buffer."""

    type: Literal["rmsprop"] = Field(description="torch.optim.RMSprop.")
    lr: PosFloat = Field(1e-2, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    alpha: Annotated[float, Field(ge=0, le=1)] = Field(0.99, description="Smoothing constant of the squared average.")
    eps: NonNegFloat = Field(1e-8, description="Added outside the square root.")
    momentum: NonNegFloat = Field(0.0, description="Momentum factor (>= 0).")
    centered: bool = Field(False, description="Normalise by the estimated variance of the gradient.")


class AdagradOptimizer(_Model):
    """torch.optim.Adagrad: eps outside the square root, accumulator starts at initial_accumulator_value."""

    type: Literal["adagrad"] = Field(description="torch.optim.Adagrad.")
    lr: PosFloat = Field(1e-2, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    lr_decay: NonNegFloat = Field(0.0, description="lr / (1 + (s-1)*lr_decay) at the parameter's s-th update.")
    eps: NonNegFloat = Field(1e-10, description="Added outside the square root.")
    initial_accumulator_value: NonNegFloat = Field(0.0, description="Initial value of the sum of squares.")


OptimizerSpec = Annotated[
    Union[SGDOptimizer, AdamOptimizer, AdamWOptimizer, RMSpropOptimizer, AdagradOptimizer],
    Field(discriminator="type"),
]
"""The optimizer family and its defaults, selected by ``type``."""

# --------------------------------------------------------------------------------------
# Groups and layer decay
# --------------------------------------------------------------------------------------


class FreezeUntil(_Model):
    """Frozen for updates t < until_step, trained from t = until_step on with fresh optimizer state."""

    until_step: NonNegInt = Field(description="First update (0-based) at which the parameters train.")


def _freeze_tag(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (dict, FreezeUntil)):
        return "until"
    return None


Freeze = Annotated[
    Union[Annotated[bool, Tag("bool")], Annotated[FreezeUntil, Tag("until")]],
    Discriminator(
        _freeze_tag,
        custom_error_type="invalid_freeze",
        custom_error_message="freeze must be true, false or {until_step: N}",
    ),
]

GROUP_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"


class Group(_Model):
    """A rule: the parameters matched by ``params`` get the settings this group sets.

    Settings left unset (null) fall through to earlier matching groups, then to
    ``optimizer``/``schedule`` (see the cascade in docs/spec.md).
    """

    name: str = Field(pattern=GROUP_NAME_PATTERN, description="Unique identifier of the group.")
    params: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        description='Glob patterns over canonical parameter names ("*" crosses dots); '
        '"re:<regex>" is a Python regular expression that must match the whole name.',
    )
    optional: bool = Field(False, description="Allow the group to match no parameter.")
    lr: PosFloat | None = Field(None, description="Absolute learning rate (exclusive with lr_mult).")
    lr_mult: PosFloat | None = Field(None, description="lr = optimizer.lr * lr_mult (exclusive with lr).")
    weight_decay: NonNegFloat | None = Field(None, description="Absolute weight decay (exclusive with decay_mult).")
    decay_mult: NonNegFloat | None = Field(
        None, description="weight_decay = optimizer.weight_decay * decay_mult (exclusive with weight_decay)."
    )
    freeze: Freeze | None = Field(
        None, description="true: never trained; false: trained (unfreezes an earlier match); {until_step: N}."
    )
    schedule: Schedule | None = Field(None, description="Schedule for these parameters (overrides the default).")
    momentum: NonNegFloat | None = Field(None, description="sgd, rmsprop: momentum override.")
    dampening: NonNegFloat | None = Field(None, description="sgd: dampening override.")
    nesterov: bool | None = Field(None, description="sgd: Nesterov override.")
    betas: Betas | None = Field(None, description="adam, adamw: betas override.")
    eps: NonNegFloat | None = Field(None, description="adam, adamw, rmsprop, adagrad: eps override.")
    amsgrad: bool | None = Field(None, description="adam, adamw: AMSGrad override.")
    alpha: Annotated[float, Field(ge=0, le=1)] | None = Field(None, description="rmsprop: alpha override.")
    centered: bool | None = Field(None, description="rmsprop: centered override.")
    lr_decay: NonNegFloat | None = Field(None, description="adagrad: lr_decay override.")
    initial_accumulator_value: NonNegFloat | None = Field(
        None, description="adagrad: initial accumulator override."
    )

    def hyperparameters_set(self) -> dict[str, Any]:
        """The family hyperparameters this group sets (fields that are not None)."""
        names = {n for names in FAMILY_HYPERPARAMETERS.values() for n in names}
        return {n: getattr(self, n) for n in sorted(names) if getattr(self, n) is not None}


class LayerDecay(_Model):
    """Layer-wise lr decay: the parameter at depth d of D gets lr * rate ** (D - 1 - d)."""

    rate: PosFloat = Field(description="Factor per layer away from the output side (> 0).")
    layers: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        description='Patterns from the input side to the output side; "{i}" matches an integer and '
        "expands to one layer per index found.",
    )


class Spec(_Model):
    """A learning-rate spec, version 1."""

    model_config = ConfigDict(
        title="lrspec v1",
        json_schema_extra={"$id": "https://lrspec.dev/schemas/lrspec-v1.schema.json"},
    )

    version: Literal[1] = Field(description="Format version; must be 1.")
    optimizer: OptimizerSpec = Field(description="Optimizer family and defaults (torch's definitions).")
    schedule: Schedule = Field(
        default_factory=lambda: ConstantSchedule(type="constant"),
        description="Default schedule for every group: a multiplier m(t) of the group's lr.",
    )
    groups: list[Group] = Field(default_factory=list, description="Rules, applied in file order.")
    layer_decay: LayerDecay | None = Field(None, description="Optional layer-wise lr decay.")
    unmatched: Literal["train", "freeze", "error"] = Field(
        "train", description="What happens to parameters no group matches."
    )

    @classmethod
    def model_validate(  # type: ignore[override]
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        **kwargs: Any,
    ) -> Spec:
        """Validate a dict into a :class:`Spec`, raising :class:`lrspec.SpecError`
        (every problem with its location) instead of pydantic's ``ValidationError``."""
        from lrspec.spec.validation import validate_spec_data

        return validate_spec_data(obj)

    @classmethod
    def _pydantic_validate(cls, obj: Any) -> Spec:
        """Plain pydantic validation (raises ``ValidationError``); used by the validator."""
        return super().model_validate(obj)

