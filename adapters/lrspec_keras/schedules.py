"""lrspec schedules as ``keras.ops`` (every backend), in the scalar dtype of :mod:`lrspec_keras._backend`.

:func:`schedule_op` turns a spec schedule node into ``fn(t) -> scalar tensor`` with the meaning
of :func:`lrspec.schedules.from_spec` (the definition; tests compare the two). ``t`` is an
integer tensor counting the updates already applied (the first update uses t = 0). Constants
are created directly in the scalar dtype (float64 where the backend has it, never rounded
through float32), and the formulas avoid cancellation so float32 stays at roundoff: powers are
``exp(n * log(base))`` with the log in float64, the cosine
``lo + (1-lo) (1 + cos(pi u))/2`` is computed as ``lo + (1-lo) cos(pi u / 2)**2`` and the
polynomial's ``1 - t/T`` as ``(T - t)/T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keras import ops
from pydantic import BaseModel

from lrspec_keras._backend import cos, scalar_dtype

__all__ = ["ScheduleOp", "schedule_from_dict", "schedule_op"]

ScheduleOp = Callable[[Any], Any]


def _c(x: float) -> Any:
    return ops.convert_to_tensor(float(x), dtype=scalar_dtype())


def _t(t: Any) -> Any:
    return ops.cast(t, scalar_dtype())


def _floordiv(t: Any, d: int) -> Any:
    return _t(ops.floor_divide(ops.cast(t, "int32"), int(d)))


def _count_ge(t: Any, points: Sequence[int]) -> Any:
    """Number of entries of ``points`` that are <= t, as int32."""
    ti = ops.cast(t, "int32")
    pts = ops.convert_to_tensor([int(p) for p in points], dtype="int32")
    return ops.sum(ops.cast(ops.greater_equal(ti, pts), "int32"))


def _sequence(pieces: Sequence[ScheduleOp], boundaries: Sequence[int]) -> ScheduleOp:
    starts = [0] + [int(b) for b in boundaries]

    def fn(t: Any) -> Any:
        ti = ops.cast(t, "int32")
        values = [p(ops.maximum(ti - s, 0)) for p, s in zip(pieces, starts)]
        if len(values) == 1:
            return values[0]
        return ops.take(ops.stack(values), _count_ge(ti, starts[1:]))

    return fn


def _power(base: float, exponent: Any) -> Any:
    """``base ** exponent`` (``exponent`` a scalar tensor) as ``exp(exponent * log(base))`` with
    ``log(base)`` in Python float64: in float32 the error is the roundoff of the exponent only,
    where ``power(float32(base), n)`` multiplies base's rounding by n (7.8e-6 at 0.96^333)."""
    if base <= 0.0:
        return ops.power(_c(base), exponent)
    return ops.exp(exponent * _c(math.log(base)))


def _linear(a: float, b: float, n: int) -> ScheduleOp:
    return lambda t: _c(a) + _c(b - a) * ops.minimum(_t(t), _c(n)) / _c(n)


def schedule_op(node: Any) -> ScheduleOp:
    """``fn(t) -> m(t)`` for a spec schedule node (see :mod:`lrspec.schedules`)."""
    return schedule_from_dict(node.model_dump(mode="json") if isinstance(node, BaseModel) else node)


def schedule_from_dict(node: Mapping[str, Any]) -> ScheduleOp:
    """:func:`schedule_op` for a schedule in its plain JSON form (``{"type": "cosine", ...}``,
    every field present, as ``model_dump`` gives it)."""
    kind = node["type"]
    if kind == "constant":
        v = float(node["value"])
        return lambda t: _c(v)
    if kind == "exponential":
        rate, steps = float(node["decay_rate"]), int(node["decay_steps"])
        if node["staircase"]:
            return lambda t: _power(rate, _floordiv(t, steps))
        return lambda t: _power(rate, _t(t) / _c(steps))
    if kind == "step":
        size, gamma = int(node["step_size"]), float(node["gamma"])
        return lambda t: _power(gamma, _floordiv(t, size))
    if kind == "multistep":
        ms, gamma = sorted(int(m) for m in node["milestones"]), float(node["gamma"])
        return lambda t: _power(gamma, _t(_count_ge(t, ms)))
    if kind == "piecewise":
        bs, vs = [int(b) for b in node["boundaries"]], [float(v) for v in node["values"]]
        return lambda t: ops.take(ops.convert_to_tensor(vs, dtype=scalar_dtype()), _count_ge(t, bs))
    if kind == "cosine":
        T, lo = int(node["decay_steps"]), float(node["min_mult"])

        def cosine(t: Any) -> Any:
            half = cos(_c(math.pi / 2.0) * ops.minimum(_t(t), _c(T)) / _c(T))
            return _c(lo) + _c(1.0 - lo) * half * half

        return cosine
    if kind == "polynomial":
        T, p, end = int(node["decay_steps"]), float(node["power"]), float(node["end_mult"])
        return lambda t: _c(end) + _c(1.0 - end) * ops.power((_c(T) - ops.minimum(_t(t), _c(T))) / _c(T), _c(p))
    if kind == "linear":
        return _linear(float(node["start_mult"]), float(node["end_mult"]), int(node["steps"]))
    if kind == "inverse_time":
        rate, steps = float(node["decay_rate"]), int(node["decay_steps"])
        if node["staircase"]:
            return lambda t: _c(1.0) / (_c(1.0) + _c(rate) * _floordiv(t, steps))
        return lambda t: _c(1.0) / (_c(1.0) + _c(rate) * _t(t) / _c(steps))
    if kind == "sequence":
        return _sequence([schedule_from_dict(s) for s in node["schedules"]], node["boundaries"])
    if kind == "warmup":
        warm = _linear(float(node["start_mult"]), 1.0, int(node["steps"]))
        return _sequence([warm, schedule_from_dict(node["then"])], [node["steps"]])
    raise TypeError(f"not a schedule node: {node!r}")
