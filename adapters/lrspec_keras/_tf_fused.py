"""TensorFlow backend only: TF's fused resource kernels for the rules they reproduce exactly.

Imported by :mod:`lrspec_keras.optimizers` only when ``keras.backend.backend() == "tensorflow"``
and no ``tf.distribute`` strategy is active (under a strategy the ``keras.ops`` rules run).

* adam/adamw without amsgrad: ``ResourceApplyAdam`` with ``beta1_power = beta2_power = 0``, fed
  torch's step size ``lr * sqrt(1-b2^s) / (1-b1^s)`` and epsilon ``eps * sqrt(1-b2^s)`` (scalars
  in float64, cast once): ``p -= lr/(1-b1^s) * m / (sqrt(v)/sqrt(1-b2^s) + eps)`` rewritten
  exactly. Coupled wd is added to the gradient; adamw's ``p *= 1 - lr*wd`` is an assign before.
* sgd with dampening 0: ``ResourceApplyMomentum`` (``b = mu b + d``, nesterov
  ``p -= lr (d + mu b)``; the zero buffer makes the first update ``b = d`` as in torch) or
  ``ResourceApplyGradientDescent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from lrspec_keras.rules import bias_correction

__all__ = ["fused_update", "has_kernel"]


def has_kernel(family: str, hyper: Mapping[str, Any]) -> bool:
    """True when :func:`fused_update` covers ``family``/``hyper``."""
    if family in ("adam", "adamw"):
        return not hyper.get("amsgrad", False)
    return family == "sgd" and float(hyper.get("dampening", 0.0)) == 0.0


def _handle(v: Any) -> Any:
    inner = getattr(v, "value", None)
    if inner is not None and not callable(inner) and hasattr(inner, "handle"):
        v = inner  # a Keras variable: its tf.Variable
    return getattr(v, "handle", None)


def _kernel(family: str, var: Any, grad: Any, slots: Mapping[str, Any], lr: Any, step: Any, wd: float,
            hyper: Mapping[str, Any]) -> list[Any]:
    vh = _handle(var)
    handles = {k: _handle(s) for k, s in slots.items()}
    dt = var.dtype.base_dtype if hasattr(var.dtype, "base_dtype") else var.dtype

    def read() -> Any:
        return tf.raw_ops.ReadVariableOp(resource=vh, dtype=dt)

    if family in ("adam", "adamw"):
        b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
        eps = float(hyper.get("eps", 1e-8))
        pre = []
        if family == "adamw":
            if wd != 0.0:
                pre.append(tf.raw_ops.AssignVariableOp(resource=vh, value=read() * tf.cast(1.0 - lr * wd, dt)))
        elif wd != 0.0:
            grad = grad + tf.constant(wd, dt) * read()
        bc1 = bias_correction(b1, step)
        bc2_sqrt = tf.sqrt(bias_correction(b2, step))
        with tf.control_dependencies(pre):
            return [tf.raw_ops.ResourceApplyAdam(
                var=vh, m=handles["exp_avg"], v=handles["exp_avg_sq"],
                beta1_power=tf.constant(0.0, dt), beta2_power=tf.constant(0.0, dt),
                lr=tf.cast(lr * bc2_sqrt / bc1, dt), beta1=tf.constant(b1, dt), beta2=tf.constant(b2, dt),
                epsilon=tf.cast(eps * bc2_sqrt, dt), grad=grad, use_locking=False, use_nesterov=False,
            )]
    if wd != 0.0:
        grad = grad + tf.constant(wd, dt) * read()
    mu = float(hyper.get("momentum", 0.0))
    if mu == 0.0:
        return [tf.raw_ops.ResourceApplyGradientDescent(var=vh, alpha=tf.cast(lr, dt), delta=grad)]
    return [tf.raw_ops.ResourceApplyMomentum(
        var=vh, accum=handles["momentum_buffer"], lr=tf.cast(lr, dt), grad=grad, momentum=tf.constant(mu, dt),
        use_locking=False, use_nesterov=bool(hyper.get("nesterov", False)),
    )]


def fused_update(family: str, var: Any, grad: Any, slots: Mapping[str, Any], lr: Any, step_var: Any, wd: float,
                 hyper: Mapping[str, Any], frozen_until: int | None, t: Any) -> None:
    """The whole update of ``var`` with a fused kernel (``step_var``: its step counter or None;
    ``t``: the optimizer's iteration count); with ``frozen_until``, nothing at all happens
    while ``t < frozen_until`` (a ``tf.cond``, so nothing is retraced)."""
    if isinstance(grad, tf.IndexedSlices):
        grad = tf.convert_to_tensor(grad)

    def do_update() -> Any:
        step = new_step = None
        if step_var is not None:
            new_step = tf.convert_to_tensor(step_var.value) + 1
            step = tf.cast(new_step, lr.dtype)
        ops = _kernel(family, var, grad, slots, lr, step, wd, hyper)
        if step_var is not None:
            ops.append(step_var.value.assign(new_step))
        if tf.executing_eagerly():
            return tf.constant(True)
        with tf.control_dependencies([op for op in ops if op is not None]):
            return tf.constant(True)

    if frozen_until is None:
        do_update()
        return
    tf.cond(t >= tf.cast(int(frozen_until), t.dtype), do_update, lambda: tf.constant(False))
