"""lrspec schedules as TensorFlow ops, evaluated in float64.

:func:`schedule_op` turns a spec schedule node into ``fn(t) -> float64 scalar tensor`` with the
same meaning as :func:`lrspec.schedules.from_spec` (the definition; tests compare the two).
``t`` is an integer tensor counting the updates already applied (the first update uses t = 0).
All constants are created directly as float64 (never rounded through float32), so the values
agree with the Python functions to a few ulps of float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf
from pydantic import BaseModel

__all__ = ["ScheduleOp", "schedule_from_dict", "schedule_op"]

ScheduleOp = Callable[[Any], Any]


def _c(x: float) -> Any:
    return tf.constant(float(x), dtype=tf.float64)


def _t64(t: Any) -> Any:
    return tf.cast(t, tf.float64)


def _floordiv(t: Any, d: int) -> Any:
    return tf.cast(tf.math.floordiv(tf.cast(t, tf.int64), tf.constant(int(d), tf.int64)), tf.float64)


def _count_ge(t: Any, points: Sequence[int]) -> Any:
    """Number of entries of ``points`` that are <= t, as int32."""
    ti = tf.cast(t, tf.int64)
    pts = tf.constant([int(p) for p in points], dtype=tf.int64)
    return tf.reduce_sum(tf.cast(ti >= pts, tf.int32))


def _sequence(pieces: Sequence[ScheduleOp], boundaries: Sequence[int]) -> ScheduleOp:
    starts = [0] + [int(b) for b in boundaries]

    def fn(t: Any) -> Any:
        ti = tf.cast(t, tf.int64)
        values = [p(tf.maximum(ti - s, tf.constant(0, tf.int64))) for p, s in zip(pieces, starts)]
        if len(values) == 1:
            return values[0]
        i = _count_ge(ti, starts[1:])
        return tf.gather(tf.stack(values), i)

    return fn


def _linear(a: float, b: float, n: int) -> ScheduleOp:
    return lambda t: _c(a) + _c(b - a) * tf.minimum(_t64(t), _c(n)) / _c(n)


def schedule_op(node: Any) -> ScheduleOp:
    """``fn(t) -> m(t)`` as a float64 TF op for a spec schedule node (see :mod:`lrspec.schedules`)."""
    return schedule_from_dict(node.model_dump(mode="json") if isinstance(node, BaseModel) else node)


def schedule_from_dict(node: Mapping[str, Any]) -> ScheduleOp:
    """:func:`schedule_op` for a schedule in its plain JSON form (``{"type": "cosine", ...}``,
    every field present, as ``model_dump`` gives it). Plain TF code over this module's helpers,
    so ``lrspec compile --emit python`` inlines it verbatim."""
    kind = node["type"]
    if kind == "constant":
        v = float(node["value"])
        return lambda t: _c(v)
    if kind == "exponential":
        rate, steps = float(node["decay_rate"]), int(node["decay_steps"])
        if node["staircase"]:
            return lambda t: tf.pow(_c(rate), _floordiv(t, steps))
        return lambda t: tf.pow(_c(rate), _t64(t) / _c(steps))
    if kind == "step":
        size, gamma = int(node["step_size"]), float(node["gamma"])
        return lambda t: tf.pow(_c(gamma), _floordiv(t, size))
    if kind == "multistep":
        ms, gamma = sorted(int(m) for m in node["milestones"]), float(node["gamma"])
        return lambda t: tf.pow(_c(gamma), tf.cast(_count_ge(t, ms), tf.float64))
    if kind == "piecewise":
        bs, vs = [int(b) for b in node["boundaries"]], [float(v) for v in node["values"]]
        table = tf.constant(vs, dtype=tf.float64)
        return lambda t: tf.gather(table, _count_ge(t, bs))
    if kind == "cosine":
        T, lo = int(node["decay_steps"]), float(node["min_mult"])
        return lambda t: _c(lo) + _c(1.0 - lo) * _c(0.5) * (
            _c(1.0) + tf.cos(_c(math.pi) * tf.minimum(_t64(t), _c(T)) / _c(T))
        )
    if kind == "polynomial":
        T, p, end = int(node["decay_steps"]), float(node["power"]), float(node["end_mult"])
        return lambda t: _c(end) + _c(1.0 - end) * tf.pow(_c(1.0) - tf.minimum(_t64(t), _c(T)) / _c(T), _c(p))
    if kind == "linear":
        return _linear(float(node["start_mult"]), float(node["end_mult"]), int(node["steps"]))
    if kind == "inverse_time":
        rate, steps = float(node["decay_rate"]), int(node["decay_steps"])
        if node["staircase"]:
            return lambda t: _c(1.0) / (_c(1.0) + _c(rate) * _floordiv(t, steps))
        return lambda t: _c(1.0) / (_c(1.0) + _c(rate) * _t64(t) / _c(steps))
    if kind == "sequence":
        return _sequence([schedule_from_dict(s) for s in node["schedules"]], node["boundaries"])
    if kind == "warmup":
        warm = _linear(float(node["start_mult"]), 1.0, int(node["steps"]))
        return _sequence([warm, schedule_from_dict(node["then"])], [node["steps"]])
    raise TypeError(f"not a schedule node: {node!r}")
