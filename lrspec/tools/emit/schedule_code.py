"""Schedules as Python source: closed-form functions ``t -> m(t)`` for generated modules.

:func:`python_schedule` writes plain-Python functions (``math``/``bisect`` only) that perform
the same floating-point operations, in the same order, as :mod:`lrspec.schedules` (the
definition), so they return bit-identical multipliers. Each composite schedule (``sequence``,
``warmup``) becomes one function per piece. (Generated TF modules need no such translation:
they inline ``lrspec_tf.schedules.schedule_from_dict`` and pass it each schedule's JSON form.)
"""

from __future__ import annotations

from typing import Any

from lrspec import schedules
from lrspec.spec import models as S

__all__ = ["python_schedule"]


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
