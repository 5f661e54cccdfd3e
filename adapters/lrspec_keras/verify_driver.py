"""``lrspec verify`` for Keras 3 (target ``keras``/``tf``, every backend): synthetic variables stepped by a plan.

:class:`KerasDriver` implements :class:`lrspec.targets.VerifyDriver`: one ``keras.Variable``
per plan name, in ``options["dtype"]`` (``"float32"``, the default, or ``"float64"``; on JAX,
float64 needs ``jax_enable_x64`` set by the caller), compiled through
``target.compile(plan, variables, **options)`` (so another target whose compiled object has the
same shape can reuse it by passing itself; ``dtype`` is not passed on) and stepped as user code
would: ``compiled.optimizer.apply_gradients`` over ``compiled.trainable_variables``, inside a
``tf.function`` on the TensorFlow backend and eagerly elsewhere. In float64 mode muon's
Newton-Schulz iteration runs in float64 (``newton_schulz_dtype="float64"``, K5) unless the
options say otherwise.

A variable is named by its plan name, and its name as the target reads it back
(:func:`lrspec_keras._names.canonical_name`) must be that plan name again; a plan name Keras
cannot represent (``a:0``, ``a/b``) is a ``ValueError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lrspec.plan import Plan
from lrspec.targets import Array, Target
from lrspec_keras._names import canonical_name

__all__ = ["DTYPES", "KerasDriver", "check_names", "order_of"]

DTYPES = ("float32", "float64")


def check_names(variables: Mapping[str, Any], target: Target) -> None:
    """Each variable must read back as its plan name (else a ``ValueError`` naming it)."""
    for name, variable in variables.items():
        got = canonical_name(variable)
        if got != name:
            raise ValueError(
                f"target {target.name!r}: the plan name {name!r} cannot be a variable name here "
                f"(a variable named so reads back as {got!r})"
            )


def order_of(variables: Mapping[str, Any], trainable: list[Any]) -> list[str]:
    """Plan names of the compiled object's trainable variables, in its order."""
    by_id = {id(v): n for n, v in variables.items()}
    return [by_id[id(v)] for v in trainable]


class KerasDriver:
    """A compiled Keras optimizer over synthetic ``keras.Variable`` objects."""

    def __init__(self, target: Target, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        import keras

        opts = dict(options)
        dtype = str(opts.pop("dtype", None) or "float32")
        if dtype not in DTYPES:
            raise ValueError(f"target {target.name!r}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if dtype == "float64":
            opts.setdefault("newton_schulz_dtype", "float64")
            from lrspec_keras._backend import float64_available

            if not float64_available():
                raise ValueError(
                    f"target {target.name!r}: float64 on the JAX backend needs jax_enable_x64 "
                    "(jax.config.update('jax_enable_x64', True) before any JAX array exists)"
                )
        self.dtype = dtype
        self.variables = {n: keras.Variable(np.array(init[n], dtype=dtype), name=n, dtype=dtype) for n in plan.names}
        check_names(self.variables, target)
        self.compiled = target.compile(plan, list(self.variables.values()), **opts)
        trainable = list(self.compiled.trainable_variables)
        self.order = order_of(self.variables, trainable)
        optimizer = self.compiled.optimizer

        def apply(grads: list[Any]) -> None:
            optimizer.apply_gradients(zip(grads, trainable))

        self._apply: Callable[[list[Any]], Any] = apply
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            self._apply = tf.function(apply, reduce_retracing=True)

    def step(self, grads: Mapping[str, Array]) -> None:
        """One ``apply_gradients`` with the trainable variables' gradients."""
        from keras import ops

        if self.order:
            self._apply([ops.convert_to_tensor(np.asarray(grads[n], dtype=self.dtype)) for n in self.order])

    def values(self) -> dict[str, Array]:
        """Every plan parameter's current value, in the driver's dtype."""
        from keras import ops

        return {n: np.array(ops.convert_to_numpy(v), dtype=self.dtype, copy=True) for n, v in self.variables.items()}

    def close(self) -> None:
        """Nothing to release."""
