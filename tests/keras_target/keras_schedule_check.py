"""The ``keras.ops`` schedules of the ``keras`` target (:mod:`lrspec_keras.schedules`) against
their definition, :func:`lrspec.schedules.from_spec`, for one node of every kind, on whichever
Keras backend is loaded: eagerly, and compiled where the backend compiles (``tf.function`` on
TensorFlow, ``jax.jit`` on JAX). Used in-process on TensorFlow (``test_keras_schedules.py``) and by
the JAX / torch backend worker (``schedules``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from lrspec import schedules as core_schedules
from lrspec.spec.models import Spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tf_target"))
from _schedule_nodes import SCHEDULE_NODES, SCHEDULE_TIMES


def parsed(node: dict[str, Any]) -> Any:
    return Spec.model_validate({"version": 1, "optimizer": {"type": "sgd"}, "schedule": node}).schedule


def _compiled(fn: Any) -> Any:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def check(node: dict[str, Any]) -> None:
    """``schedule_op(node)(t)`` equals ``from_spec(node)(t)`` at every ``SCHEDULE_TIMES`` t, to
    1e-12 relative where the backend has float64; where it computes in float32 (JAX without x64)
    to 4 float32 roundoffs of the value and of its exponent, ``4 eps32 (1 + |ln m|)`` relative (a
    power ``b^n`` computed as ``exp(n ln b)`` carries the exponent's rounding); the result is in the
    scalar dtype."""
    from lrspec_keras._backend import int_dtype, scalar_dtype
    from lrspec_keras.schedules import schedule_op

    node_ = parsed(node)
    fn, op = core_schedules.from_spec(node_), schedule_op(node_)
    want = np.array([fn(t) for t in SCHEDULE_TIMES])
    with np.errstate(divide="ignore"):
        rtol = 1e-12 if scalar_dtype() == "float64" else 4 * 2.0**-23 * (1 + np.abs(np.log(np.abs(want))))
    for label, f in (("eager", op), ("compiled", _compiled(op))):
        outs = [f(ops.convert_to_tensor(t, dtype=int_dtype())) for t in SCHEDULE_TIMES]
        assert all(keras.backend.standardize_dtype(o.dtype) == scalar_dtype() for o in outs), node["type"]
        got = np.array([float(ops.convert_to_numpy(o)) for o in outs])
        bad = np.abs(got - want) > rtol * np.abs(want) + 1e-15
        assert not bad.any(), f"{node} ({label}): t={np.array(SCHEDULE_TIMES)[bad]} got {got[bad]} want {want[bad]}"


def check_all() -> None:
    for node in SCHEDULE_NODES:
        check(node)
