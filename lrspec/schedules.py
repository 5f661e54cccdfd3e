"""Schedules: pure functions ``t -> m(t)`` returning a float64 multiplier of a group's lr.

Step convention: ``t`` counts the updates already applied; the first update uses ``t = 0``.
Every factory validates nothing (the spec models did) and returns a closure over floats
computed with :mod:`math` only, in the style of optax's schedules. These functions are the
definition of what a schedule means: the framework adapters re-express them (e.g. as TF
ops) and are tested against them. :func:`from_dict` is the one interpreter of a schedule's
JSON form (:func:`from_spec` goes through it); generated pure-Python modules inline it with
the factories (:data:`INTERPRETER`).

>>> f = exponential(decay_rate=0.5, decay_steps=2, staircase=True)
>>> [f(t) for t in range(5)]
[1.0, 1.0, 0.5, 0.5, 0.25]
>>> cosine(decay_steps=4)(2), cosine(decay_steps=4)(100)
(0.5, 0.0)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lrspec.spec import models as S

ScheduleFn = Callable[[int], float]

__all__ = [
    "INTERPRETER",
    "ScheduleFn",
    "constant",
    "cosine",
    "describe",
    "exponential",
    "from_dict",
    "from_spec",
    "inverse_time",
    "linear",
    "multistep",
    "piecewise",
    "polynomial",
    "sequence",
    "step",
    "warmup",
]


def _pow(base: float, exponent: float) -> float:
    """base ** exponent that saturates to inf instead of raising OverflowError."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return math.inf


def constant(value: float = 1.0) -> ScheduleFn:
    """m(t) = value."""
    v = float(value)
    return lambda t: v


def exponential(decay_rate: float, decay_steps: int, staircase: bool = False) -> ScheduleFn:
    """m(t) = decay_rate ** (t / decay_steps); with staircase, decay_rate ** floor(t / decay_steps).

    Same as ``tf.compat.v1.train.exponential_decay`` divided by the initial lr.
    """
    rate, steps = float(decay_rate), int(decay_steps)
    if staircase:
        return lambda t: _pow(rate, float(t // steps))
    return lambda t: _pow(rate, t / steps)


def step(step_size: int, gamma: float = 0.1) -> ScheduleFn:
    """m(t) = gamma ** floor(t / step_size) (torch ``StepLR``)."""
    size, g = int(step_size), float(gamma)
    return lambda t: _pow(g, float(t // size))


def multistep(milestones: Sequence[int], gamma: float = 0.1) -> ScheduleFn:
    """m(t) = gamma ** (number of milestones <= t) (torch ``MultiStepLR``)."""
    ms, g = sorted(int(m) for m in milestones), float(gamma)
    return lambda t: _pow(g, float(bisect.bisect_right(ms, t)))


def piecewise(boundaries: Sequence[int], values: Sequence[float]) -> ScheduleFn:
    """m(t) = values[i] for boundaries[i-1] <= t < boundaries[i] (values[0] before
    boundaries[0], values[-1] from boundaries[-1] on).

    TF's ``piecewise_constant`` switches one update later (at t > b); lrspec switches at t = b.
    """
    bs, vs = [int(b) for b in boundaries], [float(v) for v in values]
    return lambda t: vs[bisect.bisect_right(bs, t)]


def cosine(decay_steps: int, min_mult: float = 0.0) -> ScheduleFn:
    """m(t) = min_mult + (1 - min_mult) * (1 + cos(pi * min(t, T) / T)) / 2, held at min_mult
    after T (torch's ``CosineAnnealingLR`` is periodic past T; lrspec is not)."""
    T, lo = int(decay_steps), float(min_mult)
    return lambda t: lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * min(t, T) / T))


def polynomial(decay_steps: int, power: float = 1.0, end_mult: float = 0.0) -> ScheduleFn:
    """m(t) = end_mult + (1 - end_mult) * (1 - min(t, T) / T) ** power."""
    T, p, end = int(decay_steps), float(power), float(end_mult)
    return lambda t: end + (1.0 - end) * (1.0 - min(t, T) / T) ** p


def linear(start_mult: float, end_mult: float, steps: int) -> ScheduleFn:
    """m(t) = start_mult + (end_mult - start_mult) * min(t, steps) / steps."""
    a, b, n = float(start_mult), float(end_mult), int(steps)
    return lambda t: a + (b - a) * min(t, n) / n


def inverse_time(decay_rate: float, decay_steps: int, staircase: bool = False) -> ScheduleFn:
    """m(t) = 1 / (1 + decay_rate * t / decay_steps); with staircase, floor(t / decay_steps)."""
    rate, steps = float(decay_rate), int(decay_steps)
    if staircase:
        return lambda t: 1.0 / (1.0 + rate * float(t // steps))
    return lambda t: 1.0 / (1.0 + rate * t / steps)


def sequence(schedules: Sequence[ScheduleFn], boundaries: Sequence[int]) -> ScheduleFn:
    """m(t) = schedules[i](t - b_i) for b_i <= t < b_{i+1}, with b_0 = 0 (optax ``join_schedules``)."""
    fns = list(schedules)
    starts = [0] + [int(b) for b in boundaries]

    def fn(t: int) -> float:
        i = bisect.bisect_right(starts, t) - 1
        return fns[i](t - starts[i])

    return fn


def warmup(steps: int, start_mult: float = 0.0, then: ScheduleFn | None = None) -> ScheduleFn:
    """Linear warmup from start_mult to 1 over ``steps`` updates, then ``then(t - steps)``:
    ``sequence([linear(start_mult, 1, steps), then], [steps])``."""
    return sequence([linear(start_mult, 1.0, steps), then or constant(1.0)], [steps])


_SCHEDULE_NODES = (
    S.ConstantSchedule,
    S.ExponentialSchedule,
    S.StepSchedule,
    S.MultiStepSchedule,
    S.PiecewiseSchedule,
    S.CosineSchedule,
    S.PolynomialSchedule,
    S.LinearSchedule,
    S.InverseTimeSchedule,
    S.SequenceSchedule,
    S.WarmupSchedule,
)


def from_spec(node: Any) -> ScheduleFn:
    """Build the schedule function for a spec schedule node (any ``lrspec.spec.models``
    schedule): :func:`from_dict` of its JSON form, so there is one interpreter."""
    if not isinstance(node, _SCHEDULE_NODES):
        raise TypeError(f"not a schedule node: {node!r}")
    return from_dict(node.model_dump(mode="json"))


def from_dict(data: Mapping[str, Any]) -> ScheduleFn:
    """Build the schedule function for a schedule in its JSON form (``{"type": "cosine", ...}``
    with every field present, as ``node.model_dump(mode="json")`` gives it), dispatching on
    ``"type"``. Plain Python over this module's factories (:mod:`math`/:mod:`bisect` only), so
    ``lrspec compile --emit python`` inlines it, with them, verbatim.

    >>> f = from_dict({"type": "warmup", "steps": 2, "start_mult": 0.0,
    ...                "then": {"type": "step", "step_size": 1, "gamma": 0.5}})
    >>> [f(t) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    kind = data["type"]
    if kind == "constant":
        return constant(data["value"])
    if kind == "exponential":
        return exponential(data["decay_rate"], data["decay_steps"], data["staircase"])
    if kind == "step":
        return step(data["step_size"], data["gamma"])
    if kind == "multistep":
        return multistep(data["milestones"], data["gamma"])
    if kind == "piecewise":
        return piecewise(data["boundaries"], data["values"])
    if kind == "cosine":
        return cosine(data["decay_steps"], data["min_mult"])
    if kind == "polynomial":
        return polynomial(data["decay_steps"], data["power"], data["end_mult"])
    if kind == "linear":
        return linear(data["start_mult"], data["end_mult"], data["steps"])
    if kind == "inverse_time":
        return inverse_time(data["decay_rate"], data["decay_steps"], data["staircase"])
    if kind == "sequence":
        return sequence([from_dict(s) for s in data["schedules"]], data["boundaries"])
    if kind == "warmup":
        return warmup(data["steps"], data["start_mult"], from_dict(data["then"]))
    raise TypeError(f"not a schedule node: {data!r}")


#: The functions :func:`from_dict` needs, in dependency order: what a generated pure-Python
#: module inlines (with ``import bisect, math``) to evaluate schedules in their JSON form.
INTERPRETER = (
    "_pow",
    "constant",
    "exponential",
    "step",
    "multistep",
    "piecewise",
    "cosine",
    "polynomial",
    "linear",
    "inverse_time",
    "sequence",
    "warmup",
    "from_dict",
)


def describe(node: Any) -> str:
    """A one-line human summary of a schedule node, e.g. ``exponential(0.96 per 16, staircase)``."""
    if isinstance(node, S.ConstantSchedule):
        return "constant" if node.value == 1.0 else f"constant({node.value:g})"
    if isinstance(node, S.ExponentialSchedule):
        return f"exponential({node.decay_rate:g} per {node.decay_steps}{', staircase' if node.staircase else ''})"
    if isinstance(node, S.StepSchedule):
        return f"step({node.gamma:g} every {node.step_size})"
    if isinstance(node, S.MultiStepSchedule):
        return f"multistep({node.gamma:g} at {','.join(map(str, node.milestones))})"
    if isinstance(node, S.PiecewiseSchedule):
        return f"piecewise({len(node.values)} pieces)"
    if isinstance(node, S.CosineSchedule):
        return f"cosine(T={node.decay_steps}, min={node.min_mult:g})"
    if isinstance(node, S.PolynomialSchedule):
        return f"polynomial(T={node.decay_steps}, power={node.power:g}, end={node.end_mult:g})"
    if isinstance(node, S.LinearSchedule):
        return f"linear({node.start_mult:g}->{node.end_mult:g} over {node.steps})"
    if isinstance(node, S.InverseTimeSchedule):
        return f"inverse_time({node.decay_rate:g} per {node.decay_steps}{', staircase' if node.staircase else ''})"
    if isinstance(node, S.SequenceSchedule):
        return " then ".join(describe(s) for s in node.schedules)
    if isinstance(node, S.WarmupSchedule):
        return f"warmup({node.steps}) then {describe(node.then)}"
    raise TypeError(f"not a schedule node: {node!r}")
