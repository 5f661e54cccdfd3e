"""PyTorch's update rules as pure functions on TensorFlow tensors: the one place the math lives.

Both the Keras optimizer classes (:mod:`lrspec_tf.keras_optimizers`) and the tf.compat.v1
graph builder (:mod:`lrspec_tf.v1`) call these. Each rule takes the parameter value ``p``,
its gradient ``g``, the current optimizer state (a dict of tensors, see :func:`slot_specs`),
the lr used at this update ``lr`` and, where the family needs it, ``step``: the number of
updates this parameter has received *including* this one (torch's ``state['step']`` after its
increment, so 1 at the parameter's first update). ``lr`` and ``step`` are float64 scalar
tensors; every scalar coefficient (bias corrections, ``1 - lr*wd``, ``lr / (1 + (s-1) lr_decay)``)
is computed in float64 and cast once to the parameter's dtype, as torch computes them in
Python floats. Each rule returns ``(new_p, new_state)``; the caller assigns them.

Formulas (torch.optim definitions; wd = weight decay, coupled unless noted):

* sgd: ``d = g + wd p``; with momentum ``b = d`` at the first update, else
  ``b = mu b + (1 - dampening) d``; ``d = d + mu b`` (nesterov) or ``d = b``; ``p -= lr d``.
* adam / adamw: adam adds ``wd p`` to g; adamw first does ``p *= 1 - lr wd``.
  ``m = m + (1-b1)(g-m)``; ``v = b2 v + (1-b2) g^2``; (amsgrad: ``vmax = max(vmax, v)``, used for v);
  ``p -= lr/(1-b1^s) * m / (sqrt(v)/sqrt(1-b2^s) + eps)``.
* rmsprop: ``g += wd p``; ``v = a v + (1-a) g^2``; centered: ``gbar = gbar + (1-a)(g-gbar)``,
  ``den = sqrt(v - gbar^2) + eps``, else ``den = sqrt(v) + eps``; momentum: ``b = mu b + g/den``,
  ``p -= lr b``; else ``p -= lr g/den``.
* adagrad: ``g += wd p``; ``clr = lr / (1 + (s-1) lr_decay)``; ``S += g^2``; ``p -= clr g/(sqrt(S) + eps)``.
* nadam, radam, adamax, adadelta, adafactor, muon: :mod:`lrspec_tf.rules_families`.

Slots are shaped like the parameter except adafactor's ``row_var``/``col_var`` (the last,
resp. second-to-last, dimension 1) and nadam's ``mu_product`` (a float64 scalar): see
:class:`SlotSpec` and :func:`slot_shape`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from lrspec_tf.rules_families import adadelta, adafactor, adamax, muon, nadam, radam

__all__ = ["SlotSpec", "apply_rule", "needs_step", "slot_shape", "slot_specs", "update_variable"]

Tensor = Any


@dataclass(frozen=True)
class SlotSpec:
    """One per-parameter state tensor: its torch name and initial value.

    ``shape``: ``"param"`` (like the parameter), ``"row"`` / ``"col"`` (the parameter's shape with
    the last / second-to-last dimension 1: adafactor's factors) or ``"scalar"``; ``dtype``: None
    (the parameter's) or ``"float64"`` (nadam's ``mu_product``, a Python float in torch)."""

    name: str
    initial: float = 0.0
    shape: str = "param"
    dtype: str | None = None


def slot_shape(spec: SlotSpec, param_shape: Any) -> list[int]:
    """The shape of slot ``spec`` for a parameter of shape ``param_shape``."""
    shape = [int(d) for d in param_shape]
    if spec.shape == "scalar":
        return []
    if spec.shape == "row":
        shape[-1] = 1
    elif spec.shape == "col":
        shape[-2] = 1
    return shape


def slot_specs(family: str, hyper: Mapping[str, Any], ndim: int | None = None) -> tuple[SlotSpec, ...]:
    """The state tensors a parameter needs under ``family``/``hyper`` (torch's state names).
    ``ndim`` (the parameter's number of dimensions) is needed for adafactor only: factored
    ``row_var``/``col_var`` for ``ndim >= 2``, else ``variance``."""
    # (no module-level tables here: lrspec_tf.emit inlines this module's functions only)
    zero_slots = {
        "radam": ("exp_avg", "exp_avg_sq"),
        "adamax": ("exp_avg", "exp_inf"),
        "adadelta": ("square_avg", "acc_delta"),
        "muon": ("momentum_buffer",),
    }
    if family in zero_slots:
        return tuple(SlotSpec(n) for n in zero_slots[family])
    if family == "nadam":
        return (SlotSpec("exp_avg"), SlotSpec("exp_avg_sq"), SlotSpec("mu_product", 1.0, "scalar", "float64"))
    if family == "adafactor":
        if ndim is None:
            raise ValueError("adafactor's slots depend on the parameter's ndim: pass ndim")
        if ndim > 1:
            return (SlotSpec("row_var", shape="row"), SlotSpec("col_var", shape="col"))
        return (SlotSpec("variance"),)
    if family == "sgd":
        return (SlotSpec("momentum_buffer"),) if float(hyper.get("momentum", 0.0)) != 0.0 else ()
    if family in ("adam", "adamw"):
        out = [SlotSpec("exp_avg"), SlotSpec("exp_avg_sq")]
        if hyper.get("amsgrad", False):
            out.append(SlotSpec("max_exp_avg_sq"))
        return tuple(out)
    if family == "rmsprop":
        out = [SlotSpec("square_avg")]
        if hyper.get("centered", False):
            out.append(SlotSpec("grad_avg"))
        if float(hyper.get("momentum", 0.0)) > 0.0:
            out.append(SlotSpec("momentum_buffer"))
        return tuple(out)
    if family == "adagrad":
        return (SlotSpec("sum", float(hyper.get("initial_accumulator_value", 0.0))),)
    raise ValueError(f"unknown optimizer family {family!r}")


def needs_step(family: str, hyper: Mapping[str, Any]) -> bool:
    """Whether the rule reads the per-parameter step count ``s``."""
    if family in ("adam", "adamw", "nadam", "radam", "adamax", "adafactor"):
        return True
    if family in ("adadelta", "muon"):
        return False
    if family == "sgd":
        return float(hyper.get("momentum", 0.0)) != 0.0 and float(hyper.get("dampening", 0.0)) != 0.0
    if family == "adagrad":
        return float(hyper.get("lr_decay", 0.0)) != 0.0
    return False


def _f64(x: float) -> Tensor:
    return tf.constant(float(x), dtype=tf.float64)


def _to(x: Tensor, dtype: Any) -> Tensor:
    return tf.cast(x, dtype)


def _couple(p: Tensor, g: Tensor, wd: float) -> Tensor:
    return g + tf.constant(wd, p.dtype) * p if wd != 0.0 else g


def sgd(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
        hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    dt = p.dtype
    d = _couple(p, g, wd)
    mu = float(hyper.get("momentum", 0.0))
    new_state: dict[str, Tensor] = {}
    if mu != 0.0:
        damp = float(hyper.get("dampening", 0.0))
        buf = state["momentum_buffer"]
        if damp != 0.0:
            assert step is not None
            # torch: buf = d at the first update (dampening not applied), else mu*buf + (1-damp)*d;
            # the buffer is 0 before the first update.
            coef = tf.where(step <= 1.0, _f64(1.0), _f64(1.0 - damp))
            buf = tf.constant(mu, dt) * buf + _to(coef, dt) * d
        else:
            buf = tf.constant(mu, dt) * buf + d
        new_state["momentum_buffer"] = buf
        d = d + tf.constant(mu, dt) * buf if hyper.get("nesterov", False) else buf
    return p - _to(lr, dt) * d, new_state


def adam(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
         hyper: Mapping[str, Any], decoupled: bool = False) -> tuple[Tensor, dict[str, Tensor]]:
    assert step is not None
    dt = p.dtype
    b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
    eps = float(hyper.get("eps", 1e-8))
    if decoupled:
        if wd != 0.0:
            p = p * _to(_f64(1.0) - lr * _f64(wd), dt)
    else:
        g = _couple(p, g, wd)
    m = state["exp_avg"]
    v = state["exp_avg_sq"]
    m = m + tf.constant(1.0 - b1, dt) * (g - m)
    v = tf.constant(b2, dt) * v + tf.constant(1.0 - b2, dt) * (g * g)
    new_state = {"exp_avg": m, "exp_avg_sq": v}
    if hyper.get("amsgrad", False):
        vmax = tf.maximum(state["max_exp_avg_sq"], v)
        new_state["max_exp_avg_sq"] = vmax
        v_used = vmax
    else:
        v_used = v
    bc1 = _f64(1.0) - tf.pow(_f64(b1), step)
    bc2_sqrt = tf.sqrt(_f64(1.0) - tf.pow(_f64(b2), step))
    step_size = _to(lr / bc1, dt)
    denom = tf.sqrt(v_used) / _to(bc2_sqrt, dt) + tf.constant(eps, dt)
    return p - step_size * (m / denom), new_state


def rmsprop(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
            hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    dt = p.dtype
    alpha = float(hyper.get("alpha", 0.99))
    eps = float(hyper.get("eps", 1e-8))
    mu = float(hyper.get("momentum", 0.0))
    g = _couple(p, g, wd)
    v = tf.constant(alpha, dt) * state["square_avg"] + tf.constant(1.0 - alpha, dt) * (g * g)
    new_state = {"square_avg": v}
    if hyper.get("centered", False):
        gbar = state["grad_avg"]
        gbar = gbar + tf.constant(1.0 - alpha, dt) * (g - gbar)
        new_state["grad_avg"] = gbar
        avg = tf.sqrt(v - gbar * gbar) + tf.constant(eps, dt)
    else:
        avg = tf.sqrt(v) + tf.constant(eps, dt)
    if mu > 0.0:
        buf = tf.constant(mu, dt) * state["momentum_buffer"] + g / avg
        new_state["momentum_buffer"] = buf
        return p - _to(lr, dt) * buf, new_state
    return p - _to(lr, dt) * (g / avg), new_state


def adagrad(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
            hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    dt = p.dtype
    lr_decay = float(hyper.get("lr_decay", 0.0))
    eps = float(hyper.get("eps", 1e-10))
    g = _couple(p, g, wd)
    if lr_decay != 0.0:
        assert step is not None
        clr = lr / (_f64(1.0) + (step - _f64(1.0)) * _f64(lr_decay))
    else:
        clr = lr
    s = state["sum"] + g * g
    std = tf.sqrt(s) + tf.constant(eps, dt)
    return p - _to(clr, dt) * (g / std), {"sum": s}


def apply_rule(family: str, p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor,
               step: Tensor | None, wd: float, hyper: Mapping[str, Any],
               newton_schulz_dtype: str | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Dispatch to the family's rule (see the module docstring for the formulas).
    ``newton_schulz_dtype`` is muon's iteration dtype (None: bfloat16, as torch)."""
    if family == "sgd":
        return sgd(p, g, state, lr, step, wd, hyper)
    if family == "adam":
        return adam(p, g, state, lr, step, wd, hyper, decoupled=False)
    if family == "adamw":
        return adam(p, g, state, lr, step, wd, hyper, decoupled=True)
    if family == "rmsprop":
        return rmsprop(p, g, state, lr, step, wd, hyper)
    if family == "adagrad":
        return adagrad(p, g, state, lr, step, wd, hyper)
    if family == "muon":
        return muon(p, g, state, lr, step, wd, hyper, newton_schulz_dtype)
    rule = {"nadam": nadam, "radam": radam, "adamax": adamax, "adadelta": adadelta, "adafactor": adafactor}.get(family)
    if rule is not None:
        return rule(p, g, state, lr, step, wd, hyper)
    raise ValueError(f"unknown optimizer family {family!r}")


def _handle(v: Any) -> Any:
    inner = getattr(v, "value", None)
    if inner is not None and not callable(inner) and hasattr(inner, "handle"):
        v = inner  # a Keras variable: its tf.Variable
    return getattr(v, "handle", None)


def fused_apply(family: str, var: Any, grad: Tensor, slots: Mapping[str, Any], lr: Tensor, step: Tensor | None,
                wd: float, hyper: Mapping[str, Any]) -> list[Any] | None:
    """The same update as :func:`apply_rule`, with TF's fused resource kernels, or ``None`` when
    no fused kernel reproduces torch's rule here (the caller then uses :func:`apply_rule`).

    * adam/adamw without amsgrad: ``ResourceApplyAdam`` with ``beta1_power = beta2_power = 0``,
      fed torch's step size ``lr * sqrt(1-b2^s) / (1-b1^s)`` and epsilon ``eps * sqrt(1-b2^s)``
      (both float64, cast once): ``p -= lr/(1-b1^s) * m / (sqrt(v)/sqrt(1-b2^s) + eps)``
      rewritten exactly. Coupled wd is added to the gradient; adamw's ``p *= 1 - lr*wd`` is an
      assign before the kernel.
    * sgd with dampening 0: ``ResourceApplyMomentum`` (``b = mu b + d``, nesterov
      ``p -= lr (d + mu b)``; the zero-initialised buffer makes the first update ``b = d``, as in torch)
      or ``ResourceApplyGradientDescent``.

    Needs resource variables (Keras variables or TF2/v1 resource variables).
    Returns ``[op]`` (the kernel's op; ``[None]`` when executing eagerly, where it already ran),
    whose execution performs the whole update.
    """
    handles = {k: _handle(s) for k, s in slots.items()}
    vh = _handle(var)
    if vh is None or any(h is None for h in handles.values()):
        return None
    dt = var.dtype.base_dtype if hasattr(var.dtype, "base_dtype") else var.dtype
    if family in ("adam", "adamw") and not hyper.get("amsgrad", False):
        assert step is not None
        b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
        eps = float(hyper.get("eps", 1e-8))
        pre = []
        if family == "adamw":
            if wd != 0.0:
                factor = _to(_f64(1.0) - lr * _f64(wd), dt)
                pre.append(tf.raw_ops.AssignVariableOp(resource=vh, value=tf.raw_ops.ReadVariableOp(resource=vh, dtype=dt) * factor))
        elif wd != 0.0:
            grad = grad + tf.constant(wd, dt) * tf.raw_ops.ReadVariableOp(resource=vh, dtype=dt)
        bc1 = _f64(1.0) - tf.pow(_f64(b1), step)
        bc2_sqrt = tf.sqrt(_f64(1.0) - tf.pow(_f64(b2), step))
        with tf.control_dependencies(pre):
            return [tf.raw_ops.ResourceApplyAdam(
                var=vh, m=handles["exp_avg"], v=handles["exp_avg_sq"],
                beta1_power=tf.constant(0.0, dt), beta2_power=tf.constant(0.0, dt),
                lr=_to(lr * bc2_sqrt / bc1, dt), beta1=tf.constant(b1, dt), beta2=tf.constant(b2, dt),
                epsilon=_to(_f64(eps) * bc2_sqrt, dt), grad=grad, use_locking=False, use_nesterov=False,
            )]
    if family == "sgd" and float(hyper.get("dampening", 0.0)) == 0.0:
        if wd != 0.0:
            grad = grad + tf.constant(wd, dt) * tf.raw_ops.ReadVariableOp(resource=vh, dtype=dt)
        mu = float(hyper.get("momentum", 0.0))
        if mu == 0.0:
            return [tf.raw_ops.ResourceApplyGradientDescent(var=vh, alpha=_to(lr, dt), delta=grad)]
        return [tf.raw_ops.ResourceApplyMomentum(
            var=vh, accum=handles["momentum_buffer"], lr=_to(lr, dt), grad=grad, momentum=tf.constant(mu, dt),
            use_locking=False, use_nesterov=bool(hyper.get("nesterov", False)),
        )]
    return None


def update_variable(family: str, variable: Any, grad: Tensor, slot_vars: Mapping[str, Any], lr: Tensor,
                    step_var: Any, wd: float, hyper: Mapping[str, Any], frozen_until: int | None,
                    t: Tensor, newton_schulz_dtype: str | None = None) -> Any:
    """One whole update of a Keras variable: the per-variable dispatch of the Keras optimizers
    (``LrspecOptimizer.update_step`` and the module generated by ``lrspec compile --emit python
    --target tf``, which inlines this function).

    ``slot_vars`` maps slot names to the variable's (Keras) slot variables, ``step_var`` is its
    int64 step counter or ``None`` when the rule needs none, ``t`` the optimizer's iteration count.
    The step counter is incremented; the update is :func:`fused_apply` when no distribution
    strategy is active and it has a kernel, else :func:`apply_rule` and assigns of the new value
    and state. With ``frozen_until`` set, all of it is skipped (``tf.cond``) while ``t < frozen_until``.
    ``newton_schulz_dtype``: muon's iteration dtype (None: bfloat16, as torch).
    Returns a bool tensor (whether the update ran).
    """

    def do_update() -> Any:
        step = None
        new_step = None
        if step_var is not None:
            new_step = tf.convert_to_tensor(step_var.value) + 1
            step = tf.cast(new_step, tf.float64)
        fused = None
        if not tf.distribute.has_strategy():
            fused = fused_apply(family, variable, grad, slot_vars, lr, step, wd, hyper)
        if fused is not None:
            ops: list[Any] = list(fused)
        else:
            state = {n: tf.convert_to_tensor(v.value) for n, v in slot_vars.items()}
            p_new, st_new = apply_rule(family, tf.convert_to_tensor(variable), grad, state, lr, step, wd, hyper,
                                       newton_schulz_dtype)
            ops = [variable.assign(p_new)]
            for n, val in st_new.items():
                ops.append(slot_vars[n].value.assign(val))
        if step_var is not None:
            ops.append(step_var.value.assign(new_step))
        if tf.executing_eagerly():
            return tf.constant(True)
        with tf.control_dependencies([op for op in ops if op is not None]):
            return tf.constant(True)

    if frozen_until is not None:
        return tf.cond(t >= tf.constant(int(frozen_until), t.dtype), do_update, lambda: tf.constant(False))
    return do_update()
