"""Schedules as Python source: closed-form functions ``t -> m(t)`` for generated modules.

:func:`python_schedule` writes plain-Python functions (``math``/``bisect`` only) that perform
the same floating-point operations, in the same order, as :mod:`lrspec.schedules` (the
definition), so they return bit-identical multipliers. :func:`tf_schedule` writes the same
functions as float64 TensorFlow ops, built on the helpers of ``lrspec_tf.schedules`` that the
TF emitter inlines (``_c``, ``_t64``, ``_floordiv``, ``_count_ge``, ``_sequence``, ``_linear``).
Each composite schedule (``sequence``, ``warmup``) becomes one function per piece.
"""

from __future__ import annotations

from typing import Any

from lrspec import schedules
from lrspec import spec as S

__all__ = ["python_schedule", "tf_schedule"]


def _f(x: float) -> str:
    return repr(float(x))


def _i(x: int) -> str:
    return repr(int(x))


def _fn(name: str, node: Any, body: str) -> list[str]:
    return [f"def {name}(t):", f'    """{schedules.describe(node)}"""', f"    return {body}", "", ""]


def python_schedule(node: Any, name: str) -> list[str]:
    """Source lines defining ``def name(t) -> float`` for a spec schedule node."""
    if isinstance(node, S.ConstantSchedule):
        return _fn(name, node, _f(node.value))
    if isinstance(node, S.ExponentialSchedule):
        if node.staircase:
            return _fn(name, node, f"_pow({_f(node.decay_rate)}, float(t // {_i(node.decay_steps)}))")
        return _fn(name, node, f"_pow({_f(node.decay_rate)}, t / {_i(node.decay_steps)})")
    if isinstance(node, S.StepSchedule):
        return _fn(name, node, f"_pow({_f(node.gamma)}, float(t // {_i(node.step_size)}))")
    if isinstance(node, S.MultiStepSchedule):
        ms = sorted(int(m) for m in node.milestones)
        return _fn(name, node, f"_pow({_f(node.gamma)}, float(bisect.bisect_right({ms!r}, t)))")
    if isinstance(node, S.PiecewiseSchedule):
        bs = [int(b) for b in node.boundaries]
        vs = [float(v) for v in node.values]
        return _fn(name, node, f"{vs!r}[bisect.bisect_right({bs!r}, t)]")
    if isinstance(node, S.CosineSchedule):
        lo, T = _f(node.min_mult), _i(node.decay_steps)
        return _fn(name, node, f"{lo} + (1.0 - {lo}) * 0.5 * (1.0 + math.cos(math.pi * min(t, {T}) / {T}))")
    if isinstance(node, S.PolynomialSchedule):
        end, T, p = _f(node.end_mult), _i(node.decay_steps), _f(node.power)
        return _fn(name, node, f"{end} + (1.0 - {end}) * (1.0 - min(t, {T}) / {T}) ** {p}")
    if isinstance(node, S.LinearSchedule):
        return _fn(name, node, _py_linear(_f(node.start_mult), _f(node.end_mult), _i(node.steps)))
    if isinstance(node, S.InverseTimeSchedule):
        rate, steps = _f(node.decay_rate), _i(node.decay_steps)
        if node.staircase:
            return _fn(name, node, f"1.0 / (1.0 + {rate} * float(t // {steps}))")
        return _fn(name, node, f"1.0 / (1.0 + {rate} * t / {steps})")
    if isinstance(node, (S.SequenceSchedule, S.WarmupSchedule)):
        lines: list[str] = []
        if isinstance(node, S.SequenceSchedule):
            children = []
            for k, child in enumerate(node.schedules):
                lines += python_schedule(child, f"{name}_{k}")
                children.append(f"{name}_{k}")
            starts = [0] + [int(b) for b in node.boundaries]
        else:
            first = f"{name}_0"
            lines += [f"def {first}(t):", f"    return {_py_linear(_f(node.start_mult), '1.0', _i(node.steps))}", "", ""]
            lines += python_schedule(node.then, f"{name}_1")
            children = [first, f"{name}_1"]
            starts = [0, int(node.steps)]
        lines += [
            f"def {name}(t):",
            f'    """{schedules.describe(node)}"""',
            f"    starts = {starts!r}",
            "    i = bisect.bisect_right(starts, t) - 1",
            f"    return ({', '.join(children)},)[i](t - starts[i])",
            "",
            "",
        ]
        return lines
    raise TypeError(f"not a schedule node: {node!r}")


def _py_linear(a: str, b: str, n: str) -> str:
    return f"{a} + ({b} - {a}) * min(t, {n}) / {n}"


def tf_schedule(node: Any, name: str) -> list[str]:
    """Source lines defining ``def name(t)`` -> float64 scalar tensor, for a spec schedule node."""
    if isinstance(node, S.ConstantSchedule):
        return _fn(name, node, f"_c({_f(node.value)})")
    if isinstance(node, S.ExponentialSchedule):
        if node.staircase:
            return _fn(name, node, f"tf.pow(_c({_f(node.decay_rate)}), _floordiv(t, {_i(node.decay_steps)}))")
        return _fn(name, node, f"tf.pow(_c({_f(node.decay_rate)}), _t64(t) / _c({_i(node.decay_steps)}))")
    if isinstance(node, S.StepSchedule):
        return _fn(name, node, f"tf.pow(_c({_f(node.gamma)}), _floordiv(t, {_i(node.step_size)}))")
    if isinstance(node, S.MultiStepSchedule):
        ms = sorted(int(m) for m in node.milestones)
        return _fn(name, node, f"tf.pow(_c({_f(node.gamma)}), tf.cast(_count_ge(t, {ms!r}), tf.float64))")
    if isinstance(node, S.PiecewiseSchedule):
        bs = [int(b) for b in node.boundaries]
        vs = [float(v) for v in node.values]
        return _fn(name, node, f"tf.gather(tf.constant({vs!r}, dtype=tf.float64), _count_ge(t, {bs!r}))")
    if isinstance(node, S.CosineSchedule):
        lo, T = _f(node.min_mult), _i(node.decay_steps)
        body = (
            f"_c({lo}) + _c(1.0 - {lo}) * _c(0.5) * "
            f"(_c(1.0) + tf.cos(_c(math.pi) * tf.minimum(_t64(t), _c({T})) / _c({T})))"
        )
        return _fn(name, node, body)
    if isinstance(node, S.PolynomialSchedule):
        end, T, p = _f(node.end_mult), _i(node.decay_steps), _f(node.power)
        body = f"_c({end}) + _c(1.0 - {end}) * tf.pow(_c(1.0) - tf.minimum(_t64(t), _c({T})) / _c({T}), _c({p}))"
        return _fn(name, node, body)
    if isinstance(node, S.LinearSchedule):
        return _fn(name, node, f"_linear({_f(node.start_mult)}, {_f(node.end_mult)}, {_i(node.steps)})(t)")
    if isinstance(node, S.InverseTimeSchedule):
        rate, steps = _f(node.decay_rate), _i(node.decay_steps)
        if node.staircase:
            return _fn(name, node, f"_c(1.0) / (_c(1.0) + _c({rate}) * _floordiv(t, {steps}))")
        return _fn(name, node, f"_c(1.0) / (_c(1.0) + _c({rate}) * _t64(t) / _c({steps}))")
    if isinstance(node, S.SequenceSchedule):
        lines: list[str] = []
        for k, child in enumerate(node.schedules):
            lines += tf_schedule(child, f"{name}_{k}")
        children = ", ".join(f"{name}_{k}" for k in range(len(node.schedules)))
        bounds = [int(b) for b in node.boundaries]
        return lines + _fn(name, node, f"_sequence([{children}], {bounds!r})(t)")
    if isinstance(node, S.WarmupSchedule):
        lines = tf_schedule(node.then, f"{name}_1")
        body = f"_sequence([_linear({_f(node.start_mult)}, 1.0, {_i(node.steps)}), {name}_1], [{_i(node.steps)}])(t)"
        return lines + _fn(name, node, body)
    raise TypeError(f"not a schedule node: {node!r}")
