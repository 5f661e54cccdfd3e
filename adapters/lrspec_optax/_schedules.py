"""lrspec schedules as ``jax.numpy`` scalars: ``fn(t) -> m(t)`` for a traced step count.

:func:`schedule_from_dict` turns a schedule in its plain JSON form (``{"type": "cosine", ...}``,
every field present, as ``model_dump(mode="json")`` gives it) into a function of an integer
array ``t`` (the updates already applied; the first update uses t = 0) with the meaning of
:func:`lrspec.schedules.from_spec` (the definition; tests compare the two, at large t too).
Integer parts (``t // steps``, milestone counts, ``min(t, T)``) are computed on integers, so
they are exact; the rest is computed in the default float dtype (float64 when
``jax_enable_x64`` is on, else float32). Nothing here retraces per step: ``t`` is traced.

This module is part of the optax runtime: it imports only jax, numpy and math, and
``lrspec compile --emit python --target optax`` inlines it verbatim (the marked import
block is replaced).
"""

# <runtime-imports>
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

# </runtime-imports>


def float_dtype() -> Any:
    """The default float dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _c(x: float) -> Any:
    return jnp.asarray(float(x), dtype=float_dtype())


def _tf(t: Any) -> Any:
    return jnp.asarray(t).astype(float_dtype())


def _pow(base: float, exponent: Any) -> Any:
    """base ** exponent (a traced float). In float32 the base is not rounded to float32 first:
    ``exp(exponent * log(base))`` with ``log(base)`` taken in float64 (0.9999999 ** 12345 stays
    accurate); in float64 it is ``jnp.power``, as ``math.pow`` in :mod:`lrspec.schedules`."""
    if float_dtype() == jnp.float64 or base <= 0:
        return jnp.power(_c(base), exponent)
    return jnp.exp(exponent * _c(math.log(base)))


def _floordiv(t: Any, d: int) -> Any:
    return _tf(jnp.floor_divide(jnp.asarray(t), int(d)))


def _count_ge(t: Any, points: Sequence[int]) -> Any:
    """Number of entries of ``points`` that are <= t (an int32 scalar)."""
    if not points:
        return jnp.asarray(0, dtype=jnp.int32)
    pts = jnp.asarray([int(p) for p in points], dtype=jnp.asarray(t).dtype)
    return jnp.sum((jnp.asarray(t) >= pts).astype(jnp.int32))


def _min_t(t: Any, n: int) -> Any:
    """min(t, n) computed on integers, as a float."""
    return _tf(jnp.minimum(jnp.asarray(t), int(n)))


def _sequence(pieces: Sequence[Callable[[Any], Any]], boundaries: Sequence[int]) -> Callable[[Any], Any]:
    starts = [0] + [int(b) for b in boundaries]

    def fn(t: Any) -> Any:
        ti = jnp.asarray(t)
        values = [p(jnp.maximum(ti - s, 0)) for p, s in zip(pieces, starts)]
        if len(values) == 1:
            return values[0]
        return jnp.stack(values)[_count_ge(ti, starts[1:])]

    return fn


def _linear(a: float, b: float, n: int) -> Callable[[Any], Any]:
    return lambda t: _c(a) + _c(b - a) * _min_t(t, n) / _c(n)


def schedule_from_dict(node: Mapping[str, Any]) -> Callable[[Any], Any]:
    """``fn(t) -> m(t)`` (a float scalar array) for a schedule in its plain JSON form."""
    kind = node["type"]
    if kind == "constant":
        v = float(node["value"])
        return lambda t: _c(v)
    if kind == "exponential":
        rate, steps = float(node["decay_rate"]), int(node["decay_steps"])
        if node["staircase"]:
            return lambda t: _pow(rate, _floordiv(t, steps))
        return lambda t: _pow(rate, _tf(t) / _c(steps))
    if kind == "step":
        size, gamma = int(node["step_size"]), float(node["gamma"])
        return lambda t: _pow(gamma, _floordiv(t, size))
    if kind == "multistep":
        ms, gamma = sorted(int(m) for m in node["milestones"]), float(node["gamma"])
        return lambda t: _pow(gamma, _tf(_count_ge(t, ms)))
    if kind == "piecewise":
        bs, vs = [int(b) for b in node["boundaries"]], [float(v) for v in node["values"]]
        return lambda t: jnp.asarray(vs, dtype=float_dtype())[_count_ge(t, bs)]
    if kind == "cosine":
        T, lo = int(node["decay_steps"]), float(node["min_mult"])
        return lambda t: _c(lo) + _c(1.0 - lo) * _c(0.5) * (_c(1.0) + jnp.cos(_c(math.pi) * _min_t(t, T) / _c(T)))
    if kind == "polynomial":
        T, p, end = int(node["decay_steps"]), float(node["power"]), float(node["end_mult"])
        return lambda t: _c(end) + _c(1.0 - end) * jnp.power(_c(1.0) - _min_t(t, T) / _c(T), _c(p))
    if kind == "linear":
        return _linear(float(node["start_mult"]), float(node["end_mult"]), int(node["steps"]))
    if kind == "inverse_time":
        rate, steps = float(node["decay_rate"]), int(node["decay_steps"])
        if node["staircase"]:
            return lambda t: _c(1.0) / (_c(1.0) + _c(rate) * _floordiv(t, steps))
        return lambda t: _c(1.0) / (_c(1.0) + _c(rate) * _tf(t) / _c(steps))
    if kind == "sequence":
        return _sequence([schedule_from_dict(s) for s in node["schedules"]], node["boundaries"])
    if kind == "warmup":
        warm = _linear(float(node["start_mult"]), 1.0, int(node["steps"]))
        return _sequence([warm, schedule_from_dict(node["then"])], [node["steps"]])
    raise TypeError(f"not a schedule node: {node!r}")
