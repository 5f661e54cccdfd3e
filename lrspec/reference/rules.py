"""Per-parameter update rules in NumPy float64, exactly as ``torch.optim`` defines each family
(the conventions are in :mod:`lrspec.reference`): sgd, adam, adamw, rmsprop, adagrad here;
nadam, radam, adamax, adadelta in :mod:`lrspec.reference.adaptive`, adafactor in
:mod:`lrspec.reference.adafactor`, muon in :mod:`lrspec.reference.muon`; :func:`init_state`
and :func:`update` cover all eleven."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.reference.adafactor import adafactor_init, adafactor_step
from lrspec.reference.adaptive import adadelta_step, adamax_step, nadam_step, radam_step
from lrspec.reference.muon import muon_step, newton_schulz
from lrspec.reference.state import Array, OptimizerState, as_float64, coupled, lerp
from lrspec.spec.families import FAMILY_HYPERPARAMETERS

__all__ = [
    "FAMILIES",
    "STEP_FUNCTIONS",
    "OptimizerState",
    "adadelta_step",
    "adafactor_step",
    "adagrad_step",
    "adam_step",
    "adamax_step",
    "adamw_step",
    "init_state",
    "muon_step",
    "nadam_step",
    "newton_schulz",
    "radam_step",
    "rmsprop_step",
    "sgd_step",
    "update",
]

GradientMap = Mapping[str, npt.ArrayLike | None]

# torch-order helpers, kept under their historical private names
_lerp = lerp
_coupled = coupled
_as_float64 = as_float64


# ----------------------------------------------------------------------------------------
# State creation
# ----------------------------------------------------------------------------------------


def init_state(family: str, param: npt.ArrayLike, hyperparameters: Mapping[str, Any]) -> OptimizerState:
    """Fresh state for ``param``, as torch creates it before the parameter's first update.

    * sgd: no buffer (the momentum buffer is created at the first update as a copy of ``g``).
    * adam/adamw: ``exp_avg = exp_avg_sq = 0`` (and ``max_exp_avg_sq = 0`` with amsgrad).
    * rmsprop: ``square_avg = 0``, ``momentum_buffer = 0`` if momentum > 0, ``grad_avg = 0``
      if centered.
    * adagrad: ``sum = initial_accumulator_value``.
    * nadam: ``exp_avg = exp_avg_sq = 0``, ``mu_product = 1`` (a 0-d array); radam:
      ``exp_avg = exp_avg_sq = 0``; adamax: ``exp_avg = exp_inf = 0``; adadelta:
      ``square_avg = acc_delta = 0``; muon: ``momentum_buffer = 0``.
    * adafactor: ``row_var`` / ``col_var`` (the parameter's shape with the last, resp.
      second-to-last, dimension 1) for ``ndim >= 2``, else ``variance``; zeros.
    """
    _check_family(family)
    p = np.asarray(param, dtype=np.float64)
    buffers: dict[str, Array] = {}
    zero_buffers = _ZERO_BUFFERS.get(family)
    if zero_buffers is not None:
        buffers = {name: np.zeros_like(p) for name in zero_buffers}
        if family == "nadam":
            buffers["mu_product"] = np.array(1.0, dtype=np.float64)
    elif family in ("adam", "adamw"):
        buffers["exp_avg"] = np.zeros_like(p)
        buffers["exp_avg_sq"] = np.zeros_like(p)
        if hyperparameters.get("amsgrad", False):
            buffers["max_exp_avg_sq"] = np.zeros_like(p)
    elif family == "rmsprop":
        buffers["square_avg"] = np.zeros_like(p)
        if hyperparameters.get("momentum", 0.0) > 0:
            buffers["momentum_buffer"] = np.zeros_like(p)
        if hyperparameters.get("centered", False):
            buffers["grad_avg"] = np.zeros_like(p)
    elif family == "adagrad":
        buffers["sum"] = np.full_like(p, float(hyperparameters.get("initial_accumulator_value", 0.0)))
    elif family == "adafactor":
        buffers = adafactor_init(p)
    return OptimizerState(step=0, buffers=buffers)


_ZERO_BUFFERS: dict[str, tuple[str, ...]] = {
    "nadam": ("exp_avg", "exp_avg_sq"),
    "radam": ("exp_avg", "exp_avg_sq"),
    "adamax": ("exp_avg", "exp_inf"),
    "adadelta": ("square_avg", "acc_delta"),
    "muon": ("momentum_buffer",),
}


# ----------------------------------------------------------------------------------------
# Update rules: one parameter, one update
# ----------------------------------------------------------------------------------------


def sgd_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
) -> Array:
    """torch.optim.SGD, one update; returns the new parameter.

    ``g = grad + wd*p``; if ``momentum != 0``: ``b = g`` at the first update (no dampening),
    else ``b = momentum*b + (1 - dampening)*g``; the direction is ``d = g + momentum*b``
    (nesterov) or ``d = b``; without momentum ``d = g``. Then ``p = p - lr*d``.
    """
    state.step += 1
    g = _coupled(grad, param, weight_decay)
    if momentum != 0:
        buf = state.buffers.get("momentum_buffer")
        # torch: the buffer is a copy of g at the first update (no dampening)
        buf = g.copy() if buf is None else buf * momentum + (1 - dampening) * g
        state.buffers["momentum_buffer"] = buf
        g = g + momentum * buf if nesterov else buf
    return param + (-lr) * g


def adam_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
) -> Array:
    """torch.optim.Adam, one update; returns the new parameter.

    With ``s`` the parameter's step count after increment:
    decay: ``p = p*(1 - lr*wd)`` if decoupled, else ``g = grad + wd*p``;
    ``m = lerp(m, g, 1 - beta1)``; ``v = beta2*v + (1 - beta2)*g*g``;
    amsgrad: ``vmax = max(vmax, v)`` and ``v̂ = vmax``, else ``v̂ = v``;
    ``bc1 = 1 - beta1**s``, ``bc2 = 1 - beta2**s`` (Python floats);
    ``p = p - (lr/bc1) * m / (sqrt(v̂)/sqrt(bc2) + eps)`` (eps added after the bias correction).
    """
    beta1, beta2 = float(betas[0]), float(betas[1])
    state.step += 1
    s = float(state.step)
    g = grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            g = grad + weight_decay * param
    m = _lerp(state.buffers["exp_avg"], g, 1 - beta1)
    v = state.buffers["exp_avg_sq"] * beta2 + ((1 - beta2) * g) * g
    state.buffers["exp_avg"] = m
    state.buffers["exp_avg_sq"] = v
    bias_correction1 = 1 - beta1**s
    bias_correction2 = 1 - beta2**s
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    if amsgrad:
        v = np.maximum(state.buffers["max_exp_avg_sq"], v)
        state.buffers["max_exp_avg_sq"] = v
    denom = np.sqrt(v) / bias_correction2_sqrt + eps
    result: Array = param + ((-step_size) * m) / denom
    return result


def adamw_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 1e-2,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    amsgrad: bool = False,
) -> Array:
    """torch.optim.AdamW, one update: ``p = p*(1 - lr*wd)``, then the Adam step of
    :func:`adam_step` with the undecayed gradient."""
    return adam_step(
        param,
        grad,
        state,
        lr=lr,
        weight_decay=weight_decay,
        betas=betas,
        eps=eps,
        amsgrad=amsgrad,
        decoupled_weight_decay=True,
    )


def rmsprop_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    alpha: float = 0.99,
    eps: float = 1e-8,
    momentum: float = 0.0,
    centered: bool = False,
) -> Array:
    """torch.optim.RMSprop, one update; returns the new parameter.

    ``g = grad + wd*p``; ``v = alpha*v + (1 - alpha)*g*g``;
    centered: ``gbar = lerp(gbar, g, 1 - alpha)``, ``den = sqrt(v - gbar*gbar) + eps``,
    else ``den = sqrt(v) + eps`` (eps outside the square root);
    momentum > 0: ``b = momentum*b + g/den``, ``p = p - lr*b`` (lr outside the buffer);
    else ``p = p - lr*g/den``.
    """
    state.step += 1
    g = _coupled(grad, param, weight_decay)
    v = state.buffers["square_avg"] * alpha + ((1 - alpha) * g) * g
    state.buffers["square_avg"] = v
    if centered:
        gbar = _lerp(state.buffers["grad_avg"], g, 1 - alpha)
        state.buffers["grad_avg"] = gbar
        den = np.sqrt(v + ((-1.0) * gbar) * gbar) + eps
    else:
        den = np.sqrt(v) + eps
    if momentum > 0:
        buf = state.buffers["momentum_buffer"] * momentum + g / den
        state.buffers["momentum_buffer"] = buf
        return param + (-lr) * buf
    result: Array = param + ((-lr) * g) / den
    return result


def adagrad_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    initial_accumulator_value: float = 0.0,
) -> Array:
    """torch.optim.Adagrad, one update; returns the new parameter.

    With ``s`` the parameter's step count after increment: ``g = grad + wd*p``;
    ``clr = lr / (1 + (s - 1)*lr_decay)``; ``S = S + g*g`` (S starts at
    ``initial_accumulator_value``, see :func:`init_state`); ``p = p - clr*g/(sqrt(S) + eps)``
    (eps outside the square root).
    """
    del initial_accumulator_value  # used by init_state only
    state.step += 1
    s = float(state.step)
    g = _coupled(grad, param, weight_decay)
    clr = lr / (1 + (s - 1) * lr_decay)
    total = state.buffers["sum"] + (1.0 * g) * g
    state.buffers["sum"] = total
    std = np.sqrt(total) + eps
    result: Array = param + ((-clr) * g) / std
    return result


StepFn = Callable[..., Array]

STEP_FUNCTIONS: dict[str, StepFn] = {
    "sgd": sgd_step,
    "adam": adam_step,
    "adamw": adamw_step,
    "rmsprop": rmsprop_step,
    "adagrad": adagrad_step,
    "nadam": nadam_step,
    "radam": radam_step,
    "adamax": adamax_step,
    "adadelta": adadelta_step,
    "adafactor": adafactor_step,
    "muon": muon_step,
}
"""The update rule of each family: ``fn(param, grad, state, *, lr, weight_decay, **hyperparameters)``."""

FAMILIES: tuple[str, ...] = tuple(STEP_FUNCTIONS)

_HYPERPARAMETERS: dict[str, frozenset[str]] = {f: frozenset(FAMILY_HYPERPARAMETERS[f]) for f in STEP_FUNCTIONS}
"""The hyperparameters :func:`update` accepts per family: :data:`lrspec.spec.families.FAMILY_HYPERPARAMETERS`."""


def _check_family(family: str) -> None:
    if family not in STEP_FUNCTIONS:
        raise ValueError(f"unknown optimizer family {family!r}; known: {', '.join(FAMILIES)}")


def update(
    family: str,
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float,
    hyperparameters: Mapping[str, Any],
    run_dtype: str = "float64",
) -> Array:
    """One update of ``family`` (any of :data:`FAMILIES`).

    ``hyperparameters`` uses torch's names (as :attr:`lrspec.PlanGroup.hyperparameters`);
    missing ones take torch's defaults. ``run_dtype`` (``"float64"`` or ``"float32"``) is the
    dtype of the run this update stands for; the arithmetic is float64 either way, it only
    decides adafactor's ``eps1 = None`` (torch: ``finfo(param.dtype).eps``). Returns the new
    parameter; ``state`` is updated.
    """
    _check_family(family)
    fn = STEP_FUNCTIONS[family]
    unknown = sorted(set(hyperparameters) - _HYPERPARAMETERS[family])
    if unknown:
        raise ValueError(
            f"invalid hyperparameters for {family}: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_HYPERPARAMETERS[family]))})"
        )
    extra: dict[str, Any] = {"run_dtype": run_dtype} if family == "adafactor" else {}
    return fn(param, grad, state, lr=lr, weight_decay=weight_decay, **hyperparameters, **extra)
