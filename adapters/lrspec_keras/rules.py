"""PyTorch's update rules as pure functions on ``keras.ops`` tensors (every Keras backend).

Each rule takes the parameter value ``p``, its gradient ``g`` (both in the parameter's dtype),
the current state (a dict of tensors named as torch names them, see :func:`slot_specs`), the lr
of this update ``lr`` and ``step``: the number of updates this parameter has received
*including* this one (torch's ``state['step']`` after its increment: 1 at the first update).
``lr`` and ``step`` are scalar tensors in the scalar dtype of :mod:`lrspec_keras._backend`
(float64, or float32 on JAX without x64); every scalar coefficient is computed in that dtype and
cast once to the parameter's dtype, as torch computes them in Python floats. Bias corrections
``1 - b**s`` are ``-expm1(s * log b)`` (``log b`` in Python float64), which is exact to the
roundoff of the scalar dtype even in float32 (``1 - float32(0.999)`` is off by 1.3e-5).
Each rule returns ``(new_p, new_state)``; the caller assigns them.

Formulas (torch.optim definitions; wd = weight decay, coupled ``g += wd p`` unless noted):

* sgd: ``d = g + wd p``; with momentum ``b = d`` at the first update, else
  ``b = mu b + (1 - dampening) d``; ``d = d + mu b`` (nesterov) or ``d = b``; ``p -= lr d``.
* adam / adamw: adamw first does ``p *= 1 - lr wd`` (decoupled). ``m = m + (1-b1)(g-m)``;
  ``v = b2 v + (1-b2) g^2``; (amsgrad: ``vmax = max(vmax, v)``, used for v);
  ``p -= lr/(1-b1^s) * m / (sqrt(v)/sqrt(1-b2^s) + eps)``.
* rmsprop: ``v = a v + (1-a) g^2``; centered: ``gbar = gbar + (1-a)(g-gbar)``,
  ``den = sqrt(v - gbar^2) + eps``, else ``den = sqrt(v) + eps``; momentum: ``b = mu b + g/den``,
  ``p -= lr b``; else ``p -= lr g/den``.
* adagrad: ``clr = lr / (1 + (s-1) lr_decay)``; ``S += g^2``; ``p -= clr g/(sqrt(S) + eps)``.

The families of issue 14 (nadam, radam, adamax, adadelta, adafactor, muon) are in
:mod:`lrspec_keras.rules_extra`; :func:`apply_rule` dispatches through :data:`RULES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keras import ops

from lrspec_keras._backend import maximum

__all__ = ["RULES", "Rule", "SlotSpec", "apply_rule", "bias_correction", "needs_step", "slot_specs"]

Tensor = Any


@dataclass(frozen=True)
class SlotSpec:
    """One per-parameter state tensor: its torch name, initial value, and shape: ``"like"``
    (the parameter's), ``"scalar"`` (shape ``()``), ``"row"``/``"col"`` (adafactor's factored
    row/column statistics: the parameter's shape with its last / second-to-last dimension 1)."""

    name: str
    initial: float = 0.0
    shape: str = "like"


@dataclass(frozen=True)
class Rule:
    """A family's rule: its state, whether it reads the step count, and the update."""

    slots: Callable[[Mapping[str, Any], tuple[int, ...]], tuple[SlotSpec, ...]]
    needs_step: Callable[[Mapping[str, Any]], bool]
    update: Callable[..., tuple[Tensor, dict[str, Tensor]]]


def cast(x: Tensor, dtype: Any) -> Tensor:
    return ops.cast(x, dtype)


def bias_correction(beta: float, step: Tensor) -> Tensor:
    """``1 - beta**step`` in ``step``'s dtype, at its roundoff (``-expm1(step * log(beta))``)."""
    if beta == 0.0:
        return ops.ones_like(step)
    return -ops.expm1(step * math.log(beta))


def _couple(p: Tensor, g: Tensor, wd: float) -> Tensor:
    return g + wd * p if wd != 0.0 else g


def _decay(p: Tensor, lr: Tensor, wd: float) -> Tensor:
    """Decoupled weight decay ``p *= 1 - lr*wd`` (the factor in the scalar dtype, cast once)."""
    return p * cast(1.0 - lr * wd, p.dtype) if wd != 0.0 else p


def sgd(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
        hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    d = _couple(p, g, wd)
    mu = float(hyper.get("momentum", 0.0))
    new_state: dict[str, Tensor] = {}
    if mu != 0.0:
        damp = float(hyper.get("dampening", 0.0))
        buf = state["momentum_buffer"]
        if damp != 0.0:
            assert step is not None
            # torch: buf = d at the first update (no dampening), else mu*buf + (1-damp)*d; buf starts at 0
            coef = ops.where(step <= 1.0, ops.ones_like(step), ops.ones_like(step) * (1.0 - damp))
            buf = mu * buf + cast(coef, p.dtype) * d
        else:
            buf = mu * buf + d
        new_state["momentum_buffer"] = buf
        d = d + mu * buf if hyper.get("nesterov", False) else buf
    return p - cast(lr, p.dtype) * d, new_state


def adam(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
         hyper: Mapping[str, Any], decoupled: bool = False) -> tuple[Tensor, dict[str, Tensor]]:
    assert step is not None
    b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
    eps = float(hyper.get("eps", 1e-8))
    if decoupled:
        p = _decay(p, lr, wd)
    else:
        g = _couple(p, g, wd)
    m = state["exp_avg"]
    m = m + (1.0 - b1) * (g - m)
    v = b2 * state["exp_avg_sq"] + (1.0 - b2) * (g * g)
    new_state = {"exp_avg": m, "exp_avg_sq": v}
    v_used = v
    if hyper.get("amsgrad", False):
        v_used = maximum(state["max_exp_avg_sq"], v)
        new_state["max_exp_avg_sq"] = v_used
    step_size = cast(lr / bias_correction(b1, step), p.dtype)
    denom = ops.sqrt(v_used) / cast(ops.sqrt(bias_correction(b2, step)), p.dtype) + eps
    return p - step_size * (m / denom), new_state


def adamw(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
          hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    return adam(p, g, state, lr, step, wd, hyper, decoupled=True)


def rmsprop(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
            hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    alpha = float(hyper.get("alpha", 0.99))
    eps = float(hyper.get("eps", 1e-8))
    mu = float(hyper.get("momentum", 0.0))
    g = _couple(p, g, wd)
    v = alpha * state["square_avg"] + (1.0 - alpha) * (g * g)
    new_state = {"square_avg": v}
    if hyper.get("centered", False):
        gbar = state["grad_avg"]
        gbar = gbar + (1.0 - alpha) * (g - gbar)
        new_state["grad_avg"] = gbar
        avg = ops.sqrt(v - gbar * gbar) + eps
    else:
        avg = ops.sqrt(v) + eps
    if mu > 0.0:
        buf = mu * state["momentum_buffer"] + g / avg
        new_state["momentum_buffer"] = buf
        return p - cast(lr, p.dtype) * buf, new_state
    return p - cast(lr, p.dtype) * (g / avg), new_state


def adagrad(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
            hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    lr_decay = float(hyper.get("lr_decay", 0.0))
    eps = float(hyper.get("eps", 1e-10))
    g = _couple(p, g, wd)
    clr = lr
    if lr_decay != 0.0:
        assert step is not None
        clr = lr / (1.0 + (step - 1.0) * lr_decay)
    s = state["sum"] + g * g
    return p - cast(clr, p.dtype) * (g / (ops.sqrt(s) + eps)), {"sum": s}


def _sgd_slots(h: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[SlotSpec, ...]:
    return (SlotSpec("momentum_buffer"),) if float(h.get("momentum", 0.0)) != 0.0 else ()


def _adam_slots(h: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[SlotSpec, ...]:
    out = [SlotSpec("exp_avg"), SlotSpec("exp_avg_sq")]
    if h.get("amsgrad", False):
        out.append(SlotSpec("max_exp_avg_sq"))
    return tuple(out)


def _rmsprop_slots(h: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[SlotSpec, ...]:
    out = [SlotSpec("square_avg")]
    if h.get("centered", False):
        out.append(SlotSpec("grad_avg"))
    if float(h.get("momentum", 0.0)) > 0.0:
        out.append(SlotSpec("momentum_buffer"))
    return tuple(out)


def _adagrad_slots(h: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[SlotSpec, ...]:
    return (SlotSpec("sum", float(h.get("initial_accumulator_value", 0.0))),)


RULES: dict[str, Rule] = {
    "sgd": Rule(_sgd_slots, lambda h: float(h.get("momentum", 0.0)) != 0.0 and float(h.get("dampening", 0.0)) != 0.0,
                sgd),
    "adam": Rule(_adam_slots, lambda h: True, adam),
    "adamw": Rule(_adam_slots, lambda h: True, adamw),
    "rmsprop": Rule(_rmsprop_slots, lambda h: False, rmsprop),
    "adagrad": Rule(_adagrad_slots, lambda h: float(h.get("lr_decay", 0.0)) != 0.0, adagrad),
}
"""family -> :class:`Rule` (:mod:`lrspec_keras.rules_extra` adds the issue-14 families)."""


def _rule(family: str) -> Rule:
    if family not in RULES:
        import contextlib
        import importlib

        with contextlib.suppress(ImportError):  # registers the issue-14 families once written
            importlib.import_module("lrspec_keras.rules_extra")
    if family not in RULES:
        from lrspec.errors import TargetError

        raise TargetError(f"the keras target does not implement the {family!r} family yet")
    return RULES[family]


def slot_specs(family: str, hyper: Mapping[str, Any], shape: tuple[int, ...] = ()) -> tuple[SlotSpec, ...]:
    """The state tensors a parameter of ``shape`` needs under ``family``/``hyper``."""
    return _rule(family).slots(hyper, tuple(shape))


def needs_step(family: str, hyper: Mapping[str, Any]) -> bool:
    """Whether the rule reads the per-parameter step count ``s``."""
    return _rule(family).needs_step(hyper)


def apply_rule(family: str, p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor,
               step: Tensor | None, wd: float, hyper: Mapping[str, Any], **extra: Any) -> tuple[Tensor, dict[str, Tensor]]:
    """Dispatch to the family's rule (formulas in the module docstring and
    :mod:`lrspec_keras.rules_extra`); ``extra`` are rule options (muon's ``newton_schulz_dtype``)."""
    rule = _rule(family)
    if extra:
        return rule.update(p, g, state, lr, step, wd, hyper, **extra)
    return rule.update(p, g, state, lr, step, wd, hyper)
