"""``lrspec verify`` for TensorFlow: synthetic variables stepped by a compiled plan.

The tf-v1 driver implements :class:`lrspec.targets.VerifyDriver`: it creates one variable per plan name
of ``options["dtype"]`` (``"float32"``, the default, or ``"float64"``; removed from the options
before compiling), compiles through ``target.compile(plan, variables, **options)`` (so another target
whose compiled object has the same shape can reuse it by passing itself) and steps what it
returns exactly as user code would:

(The Keras driver is :class:`lrspec_keras.verify_driver.KerasDriver`.)

* :class:`GraphDriver` (target ``tf-v1``): resource variables in a fresh ``tf.Graph``; the
  compiled object's ``apply_gradients(grads_and_vars, global_step=...)`` train op, fed
  through placeholders and run in a ``tf.compat.v1.Session``.

A variable is named by its plan name, and its name as the targets read it back
(:func:`lrspec_tf._common.canonical_name`, the one naming rule of the TF targets) must be that
plan name again; a plan name this framework cannot represent (``a:0``, ``a/b``) is a
``ValueError`` naming it (``lrspec verify`` reports the target's status as "error").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lrspec.plan import Plan
from lrspec.targets import Array, Target
from lrspec_tf._common import canonical_name

__all__ = ["GraphDriver"]


def _split_dtype(options: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The run's NumPy dtype and the compile options without ``dtype``."""
    rest = dict(options)
    dtype = np.dtype(rest.pop("dtype", "float32"))
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype}")
    return dtype, rest


def _check_names(variables: Mapping[str, Any], target: Target) -> None:
    for name, variable in variables.items():
        got = canonical_name(variable)
        if got != name:
            raise ValueError(
                f"target {target.name!r}: the plan name {name!r} cannot be a variable name here "
                f"(a variable named so reads back as {got!r})"
            )


def _order(variables: Mapping[str, Any], trainable: list[Any]) -> list[str]:
    """Plan names of the compiled object's trainable variables, in its order."""
    by_id = {id(v): n for n, v in variables.items()}
    return [by_id[id(v)] for v in trainable]


class GraphDriver:
    """A compiled ``tf.compat.v1`` train op over synthetic variables, run in a session."""

    def __init__(self, target: Target, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        import tensorflow as tf

        self._graph = tf.Graph()
        self.session: Any = None
        self.dtype, compile_options = _split_dtype(options)
        with self._graph.as_default():
            self.variables = {
                n: tf.compat.v1.get_variable(
                    n, initializer=tf.constant(np.array(init[n], dtype=self.dtype)), use_resource=True
                )
                for n in plan.names
            }
            _check_names(self.variables, target)
            self.compiled = target.compile(plan, list(self.variables.values()), **compile_options)
            trainable = list(self.compiled.trainable_variables)
            self.order = _order(self.variables, trainable)
            self.placeholders = {
                n: tf.compat.v1.placeholder(tf.as_dtype(self.dtype), init[n].shape) for n in self.order
            }
            global_step = tf.compat.v1.train.get_or_create_global_step()
            self.train_op = (
                self.compiled.apply_gradients(
                    [(self.placeholders[n], v) for n, v in zip(self.order, trainable)], global_step=global_step
                )
                if trainable
                else tf.no_op()
            )
            init_op = tf.compat.v1.global_variables_initializer()
        self.session = tf.compat.v1.Session(graph=self._graph)
        self.session.run(init_op)

    def step(self, grads: Mapping[str, Array]) -> None:
        """Run the train op once, feeding the trainable variables' gradients."""
        feed = {self.placeholders[n]: np.asarray(grads[n], dtype=self.dtype) for n in self.order}
        self.session.run(self.train_op, feed)

    def values(self) -> dict[str, Array]:
        """Every plan parameter's current value."""
        vals = self.session.run(self.variables)
        return {n: np.array(a, copy=True) for n, a in vals.items()}

    def close(self) -> None:
        """Close the session (idempotent)."""
        if self.session is not None:
            self.session.close()
            self.session = None
