"""The optimizer nodes of the spec format: one per family, torch.optim's names and defaults.

``optimizer:`` (top level) is an :data:`OptimizerSpec`: the family, its lr, weight decay and
hyperparameters. A group's ``optimizer:`` is the same node without ``lr`` and
``weight_decay`` (those stay the group's own cascade keys ``lr``, ``lr_mult``,
``weight_decay``, ``decay_mult``; :data:`GroupOptimizerSpec`). Defaults are
:data:`lrspec.spec.families.FAMILY_DEFAULTS` (torch 2.13). The update formulas are in
docs/families.md and :mod:`lrspec.reference.rules`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field

from lrspec.spec.families import FAMILY_DEFAULTS
from lrspec.spec.nodes import INT64_MAX, Betas, NonNegFloat, PosFloat, PosInt, SpecNode

__all__ = [
    "GROUP_OPTIMIZER_JSON_SCHEMA",
    "OPTIMIZER_MODELS",
    "AdadeltaOptimizer",
    "AdafactorEps",
    "AdafactorOptimizer",
    "AdagradOptimizer",
    "AdamOptimizer",
    "AdamWOptimizer",
    "AdamaxOptimizer",
    "GroupOptimizerSpec",
    "MuonOptimizer",
    "NAdamOptimizer",
    "NSCoefficients",
    "OptimizerSpec",
    "RAdamOptimizer",
    "RMSpropOptimizer",
    "SGDOptimizer",
    "UnitFloat",
]


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


UnitFloat = Annotated[float, Field(ge=0, le=1)]
AdafactorEps = Annotated[tuple[NonNegFloat | None, NonNegFloat], BeforeValidator(_list_to_tuple)]
"""Adafactor's (eps1, eps2); eps1 null = torch's None (the dtype's machine epsilon)."""
NSCoefficients = Annotated[tuple[float, float, float], BeforeValidator(_list_to_tuple)]
"""Muon's Newton-Schulz quintic coefficients (a, b, c)."""
_D = FAMILY_DEFAULTS


class SGDOptimizer(SpecNode):
    """torch.optim.SGD: coupled weight decay, momentum with dampening, optional Nesterov."""

    type: Literal["sgd"] = Field(description="torch.optim.SGD.")
    lr: PosFloat = Field(1e-3, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    momentum: NonNegFloat = Field(0.0, description="Momentum factor (>= 0).")
    dampening: NonNegFloat = Field(0.0, description="Dampening for momentum (not applied on the first update).")
    nesterov: bool = Field(False, description="Nesterov momentum (needs momentum > 0 and dampening = 0).")


class AdamOptimizer(SpecNode):
    """torch.optim.Adam: coupled weight decay, eps added after the bias correction."""

    type: Literal["adam"] = Field(description="torch.optim.Adam (weight decay is coupled L2).")
    lr: PosFloat = Field(1e-3, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    betas: Betas = Field((0.9, 0.999), description="Coefficients of the running averages, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to sqrt(v)/sqrt(1-beta2^s) (torch's convention).")
    amsgrad: bool = Field(False, description="Use the running maximum of v (AMSGrad).")


class AdamWOptimizer(SpecNode):
    """torch.optim.AdamW: decoupled weight decay p *= 1 - lr*wd before the Adam step."""

    type: Literal["adamw"] = Field(description="torch.optim.AdamW (decoupled weight decay).")
    lr: PosFloat = Field(1e-3, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(1e-2, description="Decoupled decay: p *= 1 - lr*wd.")
    betas: Betas = Field((0.9, 0.999), description="Coefficients of the running averages, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to sqrt(v)/sqrt(1-beta2^s) (torch's convention).")
    amsgrad: bool = Field(False, description="Use the running maximum of v (AMSGrad).")


class RMSpropOptimizer(SpecNode):
    """torch.optim.RMSprop: eps outside the square root, lr outside the momentum buffer."""

    type: Literal["rmsprop"] = Field(description="torch.optim.RMSprop.")
    lr: PosFloat = Field(1e-2, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    alpha: UnitFloat = Field(0.99, description="Smoothing constant of the squared average.")
    eps: NonNegFloat = Field(1e-8, description="Added outside the square root.")
    momentum: NonNegFloat = Field(0.0, description="Momentum factor (>= 0).")
    centered: bool = Field(False, description="Normalise by the estimated variance of the gradient.")


class AdagradOptimizer(SpecNode):
    """torch.optim.Adagrad: eps outside the square root, accumulator starts at initial_accumulator_value."""

    type: Literal["adagrad"] = Field(description="torch.optim.Adagrad.")
    lr: PosFloat = Field(1e-2, description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    lr_decay: NonNegFloat = Field(0.0, description="lr / (1 + (s-1)*lr_decay) at the parameter's s-th update.")
    eps: NonNegFloat = Field(1e-10, description="Added outside the square root.")
    initial_accumulator_value: NonNegFloat = Field(0.0, description="Initial value of the sum of squares.")


class NAdamOptimizer(SpecNode):
    """torch.optim.NAdam: Adam with Nesterov momentum and the momentum_decay schedule of mu_t."""

    type: Literal["nadam"] = Field(description="torch.optim.NAdam.")
    lr: PosFloat = Field(_D["nadam"]["lr"], description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(
        0.0, description="Coupled L2 (wd*p added to the gradient), decoupled when decoupled_weight_decay."
    )
    betas: Betas = Field((0.9, 0.999), description="Coefficients of the running averages, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to the bias-corrected sqrt(v).")
    momentum_decay: NonNegFloat = Field(
        4e-3, description="psi: mu_t = beta1 * (1 - 0.5 * 0.96^(t * psi)) (torch's default 4e-3)."
    )
    decoupled_weight_decay: bool = Field(False, description="Decoupled decay p *= 1 - lr*wd (NAdamW).")


class RAdamOptimizer(SpecNode):
    """torch.optim.RAdam: Adam with the variance rectification term (SGD-with-momentum steps while rho_t <= 5)."""

    type: Literal["radam"] = Field(description="torch.optim.RAdam.")
    lr: PosFloat = Field(_D["radam"]["lr"], description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(
        0.0, description="Coupled L2 (wd*p added to the gradient), decoupled when decoupled_weight_decay."
    )
    betas: Betas = Field((0.9, 0.999), description="Coefficients of the running averages, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to the bias-corrected sqrt(v).")
    decoupled_weight_decay: bool = Field(False, description="Decoupled decay p *= 1 - lr*wd (RAdamW).")


class AdamaxOptimizer(SpecNode):
    """torch.optim.Adamax: Adam with the infinity norm u = max(beta2*u, |g| + eps)."""

    type: Literal["adamax"] = Field(description="torch.optim.Adamax.")
    lr: PosFloat = Field(_D["adamax"]["lr"], description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    betas: Betas = Field((0.9, 0.999), description="beta1 of the mean, beta2 of the infinity norm, each in [0, 1).")
    eps: NonNegFloat = Field(1e-8, description="Added to |g| inside the running maximum.")


class AdadeltaOptimizer(SpecNode):
    """torch.optim.Adadelta: running averages of g^2 and of the squared updates, scaled by lr."""

    type: Literal["adadelta"] = Field(description="torch.optim.Adadelta.")
    lr: PosFloat = Field(
        _D["adadelta"]["lr"], description="Coefficient that scales the delta (> 0; torch's default 1.0)."
    )
    weight_decay: NonNegFloat = Field(0.0, description="Coupled L2: wd*p is added to the gradient.")
    rho: UnitFloat = Field(0.9, description="Smoothing constant of both running averages, in [0, 1].")
    eps: NonNegFloat = Field(1e-6, description="Added inside both square roots.")


class AdafactorOptimizer(SpecNode):
    """torch.optim.Adafactor: factored second moments of matrices, relative step size, decoupled decay."""

    type: Literal["adafactor"] = Field(description="torch.optim.Adafactor (decoupled weight decay).")
    lr: PosFloat = Field(_D["adafactor"]["lr"], description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.0, description="Decoupled decay: p *= 1 - lr*wd.")
    beta2_decay: Annotated[float, Field(le=0)] = Field(
        -0.8, description="beta2_t = 1 - t^beta2_decay (<= 0; torch's default -0.8)."
    )
    eps: AdafactorEps = Field(
        (None, 1e-3),
        description="[eps1, eps2]: the second-moment estimate is clamped at eps1^2 (null: the dtype's machine "
        "epsilon); the step size is max(eps2, RMS(p)) * min(lr, 1/sqrt(t)).",
    )
    d: Annotated[float, Field(ge=1)] = Field(1.0, description="Clipping threshold of the update's RMS (>= 1).")


class MuonOptimizer(SpecNode):
    """torch.optim.Muon: momentum, then Newton-Schulz orthogonalisation of each 2-D update; decoupled decay."""

    type: Literal["muon"] = Field(description="torch.optim.Muon (2-D parameters only; decoupled weight decay).")
    lr: PosFloat = Field(_D["muon"]["lr"], description="Base learning rate (> 0).")
    weight_decay: NonNegFloat = Field(0.1, description="Decoupled decay: p *= 1 - lr*wd (torch's default 0.1).")
    momentum: NonNegFloat = Field(0.95, description="buf = momentum*buf + (1-momentum)*g (an average, torch's lerp).")
    nesterov: bool = Field(True, description="Nesterov: orthogonalise (1-momentum)*g + momentum*buf instead of buf.")
    ns_coefficients: NSCoefficients = Field(
        (3.4445, -4.775, 2.0315),
        description="(a, b, c) of the Newton-Schulz iteration X = aX + (bA + cA^2)X, A = XX^T.",
    )
    eps: NonNegFloat = Field(1e-7, description="X0 = G / (||G||_F + eps) before the iteration.")
    ns_steps: Annotated[PosInt, Field(lt=100)] = Field(5, description="Newton-Schulz steps (1 to 99).")
    adjust_lr_fn: Literal["original", "match_rms_adamw"] | None = Field(
        None,
        description="lr adjustment per shape (A, B): null or original: lr*sqrt(max(1, A/B)); "
        "match_rms_adamw: lr*0.2*sqrt(max(A, B)).",
    )


OPTIMIZER_MODELS: tuple[type[SpecNode], ...] = (
    SGDOptimizer,
    AdamOptimizer,
    AdamWOptimizer,
    RMSpropOptimizer,
    AdagradOptimizer,
    NAdamOptimizer,
    RAdamOptimizer,
    AdamaxOptimizer,
    AdadeltaOptimizer,
    AdafactorOptimizer,
    MuonOptimizer,
)
"""One node per family, in :data:`lrspec.spec.families.FAMILIES` order."""

OptimizerSpec = Annotated[
    Union[
        SGDOptimizer,
        AdamOptimizer,
        AdamWOptimizer,
        RMSpropOptimizer,
        AdagradOptimizer,
        NAdamOptimizer,
        RAdamOptimizer,
        AdamaxOptimizer,
        AdadeltaOptimizer,
        AdafactorOptimizer,
        MuonOptimizer,
    ],
    Field(discriminator="type"),
]
"""The optimizer family and its defaults, selected by ``type``."""


GroupOptimizerSpec = OptimizerSpec
"""A group's ``optimizer``: the same nodes as the top level's, by ``type``; its ``lr`` and
``weight_decay`` keys are refused (a semantic check, :mod:`lrspec.spec.semantics`, pointing to
the group's own ``lr``/``lr_mult``/``weight_decay``/``decay_mult``), and only the family's
hyperparameters are read from it. One definition for both keeps the JSON Schema small."""

GROUP_OPTIMIZER_JSON_SCHEMA: dict[str, Any] = {
    "not": {
        "anyOf": [
            {"type": "object", "required": ["lr"]},
            {"type": "object", "required": ["weight_decay"]},
        ]
    }
}
"""Added to the group ``optimizer`` field's JSON Schema: no ``lr``/``weight_decay`` there."""

assert tuple(m.model_fields["type"].annotation.__args__[0] for m in OPTIMIZER_MODELS) == tuple(_D)  # type: ignore[union-attr]
assert INT64_MAX > 0
