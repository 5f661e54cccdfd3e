"""The ``gradient-scale`` strategy and :func:`lr_mult`.

Scaling a variable's gradient by ``alpha`` (``tf.custom_gradient`` or multiplying the gradient)
equals multiplying its lr by ``alpha`` only when the update is linear in the gradient and
nothing else enters it:

* **exact**: sgd, with or without momentum/dampening/Nesterov (``b`` and ``p`` move linearly
  in ``g``), when the scaled group has no weight decay (coupled ``wd*p`` is not scaled), and
  every trainable group shares one schedule (one optimizer runs at ``base_lr * m(t)``);
* **not exact**: adam, adamw, rmsprop and adagrad normalise the gradient's scale (``m/sqrt(v)``),
  so a multiplier is almost entirely ignored (measured: a multiplier of 0.1 changes torch Adam's
  update by 2e-5 of its displacement instead of 10x); weight decay is never scaled.

The rules live in :mod:`lrspec_keras.gradient_scale` (re-exported here);
:func:`check_gradient_scale` enforces these rules with a :class:`lrspec.TargetError` that says
why, unless ``allow_inexact=True``; differing schedules are always refused (one optimizer has
one schedule).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrspec_keras.gradient_scale import check_gradient_scale, gradient_multiplier, lr_and_gradient_multiplier

__all__ = ["check_gradient_scale", "gradient_multiplier", "lr_and_gradient_multiplier", "lr_mult", "scale_gradient"]

def lr_mult(alpha: float) -> Callable[[Any], Any]:
    """A layer-like function ``f(x) = x`` whose gradient is ``alpha * dy``.

    Inserted after a block's output (``h = lr_mult(0.1)(block(x))``) it scales the gradients of
    everything upstream by ``alpha``; for SGD (with or without momentum) and no weight decay that
    equals multiplying those variables' lr by ``alpha``. For Adam, RMSprop and Adagrad it has
    almost no effect (see the module docstring): use a spec group with ``lr_mult`` instead.
    """
    import tensorflow as tf

    a = float(alpha)

    @tf.custom_gradient  # type: ignore[untyped-decorator]
    def _scaled_identity(x: Any) -> Any:
        def grad(dy: Any) -> Any:
            return dy * tf.cast(a, dy.dtype)

        return tf.identity(x), grad

    def apply(x: Any) -> Any:
        return _scaled_identity(tf.convert_to_tensor(x))

    return apply


def scale_gradient(grad: Any, mult: float) -> Any:
    """``grad * mult`` in the gradient's dtype; ``grad`` itself when ``mult`` is 1."""
    if mult == 1.0:
        return grad
    import tensorflow as tf

    return grad * tf.constant(mult, grad.dtype)
