"""Reference optimizers: NumPy float64 update rules exactly as ``torch.optim`` defines them.

This module is the definition of every update lrspec compiles; each adapter is tested
against it. It uses NumPy and the standard library only.

Conventions
-----------
* ``t`` counts the updates already applied to the model; the first update uses ``t = 0``.
  The lr of a parameter at update ``t`` is ``plan.group_of(name).lr_at(t)``.
* ``s`` is a parameter's own step count: 1 at the first update it actually takes (a
  parameter without a gradient, or frozen, takes no update and its ``s`` does not advance).
* ``g`` below is the gradient after coupled weight decay: ``g = grad + wd * p`` (torch adds
  it only when ``wd != 0``); AdamW's decoupled decay instead does ``p *= 1 - lr * wd``
  before the Adam step.
* The arithmetic follows torch's single-tensor (``foreach=False``) code path operation by
  operation (``lerp``, ``addcmul``, ``addcdiv`` and bias corrections computed as Python
  floats), so float64 results agree with torch float64 to about 1e-15 relative (torch's
  CPU kernels may fuse a multiply-add, NumPy does not).

API
---
* :class:`OptimizerState`: per-parameter state, ``step`` (= s after the update) and
  ``buffers`` keyed by torch's state names (``momentum_buffer``, ``exp_avg``,
  ``exp_avg_sq``, ``max_exp_avg_sq``, ``square_avg``, ``grad_avg``, ``sum``).
* :func:`init_state`: fresh state as torch creates it.
* :func:`sgd_step`, :func:`adam_step`, :func:`adamw_step`, :func:`rmsprop_step`,
  :func:`adagrad_step`: one update of one parameter; they return the new parameter array
  (the input is not modified) and update ``state`` in place.
* :func:`update`: dispatch by family name with a hyperparameter mapping
  (:attr:`lrspec.PlanGroup.hyperparameters`).
* :class:`ReferenceOptimizer`: steps a whole :class:`~lrspec.Plan` (groups, schedules,
  freezes, skipped gradients); :func:`simulate` runs it over a list of gradients.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.errors import ResolveError
from lrspec.plan import Plan

__all__ = [
    "FAMILIES",
    "STEP_FUNCTIONS",
    "OptimizerState",
    "ReferenceOptimizer",
    "adagrad_step",
    "adam_step",
    "adamw_step",
    "init_state",
    "rmsprop_step",
    "sgd_step",
    "simulate",
    "update",
]

Array = npt.NDArray[np.float64]
GradientMap = Mapping[str, npt.ArrayLike | None]


@dataclass
class OptimizerState:
    """The state one parameter carries between updates.

    ``step`` is the number of updates this parameter has taken (torch's ``state["step"]``;
    torch's SGD keeps no step, but it is counted here too). ``buffers`` holds float64 arrays
    under torch's state names.
    """

    step: int = 0
    buffers: dict[str, Array] = field(default_factory=dict)

    def copy(self) -> OptimizerState:
        """A deep copy (the buffers are copied)."""
        return OptimizerState(self.step, {k: v.copy() for k, v in self.buffers.items()})


# ----------------------------------------------------------------------------------------
# Elementwise helpers with torch's operation order
# ----------------------------------------------------------------------------------------


def _lerp(start: Array, end: Array, weight: float) -> Array:
    """torch.lerp: ``start + w*(end - start)`` if ``|w| < 0.5`` else ``end - (end - start)*(1 - w)``."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def _coupled(grad: Array, param: Array, weight_decay: float) -> Array:
    """Coupled L2 as torch does it: ``g = grad + wd * p`` (only when ``wd != 0``)."""
    if weight_decay != 0:
        return grad + weight_decay * param
    return grad


def _as_float64(value: npt.ArrayLike) -> Array:
    return np.array(value, dtype=np.float64, copy=True)


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
    """
    _check_family(family)
    p = np.asarray(param, dtype=np.float64)
    buffers: dict[str, Array] = {}
    if family in ("adam", "adamw"):
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
    return OptimizerState(step=0, buffers=buffers)


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
}
"""The update rule of each family: ``fn(param, grad, state, *, lr, weight_decay, **hyperparameters)``."""

FAMILIES: tuple[str, ...] = tuple(STEP_FUNCTIONS)

_HYPERPARAMETERS: dict[str, frozenset[str]] = {
    family: frozenset(
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("lr", "weight_decay", "decoupled_weight_decay")
    )
    for family, fn in STEP_FUNCTIONS.items()
}


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
) -> Array:
    """One update of ``family`` (``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``adagrad``).

    ``hyperparameters`` uses torch's names (as :attr:`lrspec.PlanGroup.hyperparameters`);
    missing ones take torch's defaults. Returns the new parameter; ``state`` is updated.
    """
    _check_family(family)
    fn = STEP_FUNCTIONS[family]
    unknown = sorted(set(hyperparameters) - _HYPERPARAMETERS[family])
    if unknown:
        raise ValueError(
            f"invalid hyperparameters for {family}: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_HYPERPARAMETERS[family]))})"
        )
    return fn(param, grad, state, lr=lr, weight_decay=weight_decay, **hyperparameters)


# ----------------------------------------------------------------------------------------
# A whole plan
# ----------------------------------------------------------------------------------------


class ReferenceOptimizer:
    """Steps every parameter of a :class:`~lrspec.Plan` as the compiled optimizers must.

    >>> opt = ReferenceOptimizer(plan, {"w": np.zeros(3)})   # doctest: +SKIP
    >>> opt.step({"w": np.ones(3)}); opt.params["w"], opt.t  # doctest: +SKIP

    At update ``t`` (= :attr:`t`, the updates applied so far) a parameter is skipped (no
    change, no state, no weight decay) when its gradient is missing or None, or when its
    group ``is_frozen_at(t)``. Otherwise it gets ``lr = group.lr_at(t)``,
    ``group.weight_decay`` and ``group.hyperparameters``; its state is created fresh at the
    first update it actually takes.
    """

    def __init__(self, plan: Plan, initial_params: Mapping[str, npt.ArrayLike]) -> None:
        self.plan = plan
        self.t = 0
        self._params: dict[str, Array] = _initial(plan, initial_params)
        self._states: dict[str, OptimizerState] = {}

    @property
    def params(self) -> dict[str, Array]:
        """Copies of the current parameter values, by name (plan order)."""
        return {n: p.copy() for n, p in self._params.items()}

    @property
    def states(self) -> dict[str, OptimizerState]:
        """Copies of the state of every parameter that has taken an update."""
        return {n: s.copy() for n, s in self._states.items()}

    def state(self, name: str) -> OptimizerState | None:
        """A copy of ``name``'s state, or None if it has never been updated."""
        self._check_name(name)
        s = self._states.get(name)
        return None if s is None else s.copy()

    def _check_name(self, name: str) -> None:
        if name not in self._params:
            raise ResolveError(f"{name!r} is not a parameter of this plan")

    def step(self, gradients: GradientMap) -> None:
        """Apply update ``t`` with ``gradients`` (name -> array or None), then ``t += 1``."""
        grads = self._checked_gradients(gradients)
        plan, t = self.plan, self.t
        for name, grad in grads.items():
            group = plan.group_of(name)
            if group.is_frozen_at(t):
                continue
            state = self._states.get(name)
            if state is None:
                state = init_state(plan.family, self._params[name], group.hyperparameters)
                self._states[name] = state
            self._params[name] = update(
                plan.family,
                self._params[name],
                grad,
                state,
                lr=group.lr_at(t),
                weight_decay=group.weight_decay,
                hyperparameters=group.hyperparameters,
            )
        self.t += 1

    def _checked_gradients(self, gradients: GradientMap) -> dict[str, Array]:
        if not isinstance(gradients, Mapping):
            raise TypeError(
                f"gradients at update {self.t} must be a mapping name -> array, got {type(gradients).__name__}"
            )
        out: dict[str, Array] = {}
        for name, grad in gradients.items():
            if name not in self._params:
                raise ResolveError(f"gradient at update {self.t} for {name!r}, which is not a parameter of the plan")
            if grad is None:
                continue
            g = _as_float64(grad)
            if g.shape != self._params[name].shape:
                raise ResolveError(
                    f"gradient at update {self.t} for {name!r} has shape {g.shape}, "
                    f"the parameter has shape {self._params[name].shape}"
                )
            out[name] = g
        return out


def _initial(plan: Plan, initial_params: Mapping[str, npt.ArrayLike]) -> dict[str, Array]:
    """float64 copies of the initial values, checked against the plan's names and shapes."""
    known = set(plan.names)
    extra = [n for n in initial_params if n not in known]
    if extra:
        raise ResolveError(
            f"initial_params has names that are not parameters of the plan: {', '.join(map(repr, extra))}"
        )
    params: dict[str, Array] = {}
    for name in plan.names:
        if name not in initial_params:
            raise ResolveError(f"initial_params has no value for parameter {name!r}")
        value = _as_float64(initial_params[name])
        shape = plan.param(name).shape
        if shape is not None and tuple(shape) != value.shape:
            raise ResolveError(f"initial value of {name!r} has shape {value.shape}, the plan says {tuple(shape)}")
        params[name] = value
    return params


def simulate(
    plan: Plan,
    initial_params: Mapping[str, npt.ArrayLike],
    gradients: Sequence[GradientMap],
) -> list[dict[str, Array]]:
    """Run ``len(gradients)`` updates of ``plan`` in float64, as torch.optim defines them.

    ``initial_params`` maps every plan name to an array (float64 copies are taken);
    ``gradients[t]`` maps names to the gradient of update ``t`` (missing or None: that
    parameter is skipped at that update). Returns ``N + 1`` snapshots: index 0 holds the
    initial values, index ``k`` the values after ``k`` updates. See
    :class:`ReferenceOptimizer` for freezes, schedules and state. Raises
    :class:`lrspec.ResolveError` (a ValueError) naming the parameter for a gradient of an
    unknown name, a missing or extra initial value, or a shape mismatch.
    """
    opt = ReferenceOptimizer(plan, initial_params)
    snapshots = [opt.params]
    for grads in gradients:
        opt.step(grads)
        snapshots.append(opt.params)
    return snapshots
