"""Schedules against closed forms written here (not copied from lrspec.schedules).

Step convention: t counts the updates already applied; the first update uses t = 0.
"""

from __future__ import annotations

import math

import pytest

from lrspec import Spec
from lrspec import schedules as S

HUGE = 10**12


def node(data: dict[str, object]) -> object:
    """A validated schedule node (through a spec, as users write it)."""
    spec = Spec.model_validate({"version": 1, "optimizer": {"type": "sgd"}, "schedule": data})
    return spec.schedule


def fn(data: dict[str, object]) -> S.ScheduleFn:
    return S.from_spec(node(data))


def test_constant() -> None:
    f = fn({"type": "constant", "value": 0.25})
    assert [f(t) for t in (0, 1, 1000, HUGE)] == [0.25] * 4
    assert fn({"type": "constant"})(7) == 1.0


@pytest.mark.parametrize("t", [0, 1, 15, 16, 17, 31, 32, 100, 1000])
def test_exponential_staircase(t: int) -> None:
    f = fn({"type": "exponential", "decay_rate": 0.96, "decay_steps": 16, "staircase": True})
    assert f(t) == pytest.approx(0.96 ** (t // 16), rel=1e-15)


def test_exponential_staircase_boundaries() -> None:
    f = fn({"type": "exponential", "decay_rate": 0.5, "decay_steps": 10, "staircase": True})
    assert f(0) == 1.0 and f(9) == 1.0
    assert f(10) == 0.5 and f(19) == 0.5  # switches exactly at t = 10
    assert f(20) == 0.25


@pytest.mark.parametrize("t", [0, 1, 8, 16, 24, 1000])
def test_exponential_smooth(t: int) -> None:
    f = fn({"type": "exponential", "decay_rate": 0.96, "decay_steps": 16})
    assert f(t) == pytest.approx(math.exp(t / 16 * math.log(0.96)), rel=1e-12)


def test_exponential_growth_and_huge_t_saturate() -> None:
    assert fn({"type": "exponential", "decay_rate": 0.96, "decay_steps": 16})(HUGE) == 0.0
    assert fn({"type": "exponential", "decay_rate": 0.96, "decay_steps": 16, "staircase": True})(HUGE) == 0.0
    grow = fn({"type": "exponential", "decay_rate": 2.0, "decay_steps": 1})
    assert grow(3) == 8.0
    assert grow(HUGE) == math.inf  # saturates instead of raising OverflowError


@pytest.mark.parametrize(("t", "expected"), [(0, 1.0), (29, 1.0), (30, 0.1), (59, 0.1), (60, 0.01), (90, 0.001)])
def test_step(t: int, expected: float) -> None:
    assert fn({"type": "step", "step_size": 30, "gamma": 0.1})(t) == pytest.approx(expected, rel=1e-12)


def test_step_default_gamma_and_huge_t() -> None:
    f = fn({"type": "step", "step_size": 2})
    assert f(4) == pytest.approx(0.01)
    assert f(HUGE) == 0.0


@pytest.mark.parametrize(
    ("t", "expected"), [(0, 1.0), (9, 1.0), (10, 0.5), (24, 0.5), (25, 0.25), (26, 0.25), (HUGE, 0.25)]
)
def test_multistep_switches_at_milestone(t: int, expected: float) -> None:
    f = fn({"type": "multistep", "milestones": [10, 25], "gamma": 0.5})
    assert f(t) == expected


def test_multistep_milestone_zero_applies_from_the_first_update() -> None:
    assert fn({"type": "multistep", "milestones": [0], "gamma": 0.5})(0) == 0.5


@pytest.mark.parametrize(
    ("t", "expected"), [(0, 1.0), (99, 1.0), (100, 0.5), (101, 0.5), (199, 0.5), (200, 0.1), (HUGE, 0.1)]
)
def test_piecewise_switches_at_boundary(t: int, expected: float) -> None:
    # lrspec switches at t = b (TF's piecewise_constant would switch at t = b + 1)
    f = fn({"type": "piecewise", "boundaries": [100, 200], "values": [1.0, 0.5, 0.1]})
    assert f(t) == expected


@pytest.mark.parametrize("t", [0, 1, 25, 50, 75, 99, 100])
def test_cosine(t: int) -> None:
    lo, T = 0.1, 100
    expected = lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * t / T))
    assert fn({"type": "cosine", "decay_steps": T, "min_mult": lo})(t) == pytest.approx(expected, abs=1e-15)


def test_cosine_landmarks_and_hold_after_T() -> None:
    f = fn({"type": "cosine", "decay_steps": 100})
    assert f(0) == 1.0
    assert f(50) == pytest.approx(0.5, abs=1e-15)
    assert f(100) == pytest.approx(0.0, abs=1e-15)
    assert f(150) == f(100) and f(HUGE) == f(100)  # held, not periodic like torch's CosineAnnealingLR
    g = fn({"type": "cosine", "decay_steps": 10, "min_mult": 0.2})
    assert g(10) == pytest.approx(0.2) and g(HUGE) == pytest.approx(0.2)


@pytest.mark.parametrize("t", [0, 1, 5, 9, 10, 11, HUGE])
def test_polynomial(t: int) -> None:
    T, p, end = 10, 2.0, 0.1
    expected = end + (1 - end) * (1 - min(t, T) / T) ** p
    got = fn({"type": "polynomial", "decay_steps": T, "power": p, "end_mult": end})(t)
    assert got == pytest.approx(expected, abs=1e-15)


def test_polynomial_default_is_linear_to_zero() -> None:
    f = fn({"type": "polynomial", "decay_steps": 4})
    assert [f(t) for t in range(6)] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0, 0.0])


@pytest.mark.parametrize(("t", "expected"), [(0, 0.0), (1, 0.1), (5, 0.5), (10, 1.0), (11, 1.0), (HUGE, 1.0)])
def test_linear_increasing(t: int, expected: float) -> None:
    assert fn({"type": "linear", "start_mult": 0.0, "end_mult": 1.0, "steps": 10})(t) == pytest.approx(expected)


def test_linear_decreasing() -> None:
    f = fn({"type": "linear", "start_mult": 1.0, "end_mult": 0.2, "steps": 4})
    assert [f(t) for t in range(6)] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.2])


@pytest.mark.parametrize("t", [0, 1, 9, 10, 11, 100])
def test_inverse_time(t: int) -> None:
    smooth = fn({"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 10})
    stairs = fn({"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 10, "staircase": True})
    assert smooth(t) == pytest.approx(1 / (1 + 0.5 * t / 10), rel=1e-15)
    assert stairs(t) == pytest.approx(1 / (1 + 0.5 * (t // 10)), rel=1e-15)


def test_inverse_time_huge_t_is_tiny_not_an_error() -> None:
    value = fn({"type": "inverse_time", "decay_rate": 1.0, "decay_steps": 1})(HUGE)
    assert 0.0 < value == pytest.approx(1 / (1 + HUGE))


def test_sequence_each_piece_restarts_at_zero() -> None:
    f = fn(
        {
            "type": "sequence",
            "schedules": [
                {"type": "linear", "start_mult": 0.0, "end_mult": 1.0, "steps": 10},
                {"type": "exponential", "decay_rate": 0.5, "decay_steps": 5, "staircase": True},
                {"type": "constant", "value": 0.01},
            ],
            "boundaries": [10, 30],
        }
    )
    assert f(0) == 0.0
    assert f(5) == pytest.approx(0.5)
    assert f(9) == pytest.approx(0.9)
    assert f(10) == 1.0  # second piece at its own t = 0, switching exactly at t = b1
    assert f(14) == 1.0
    assert f(15) == 0.5  # 0.5 ** ((15 - 10) // 5)
    assert f(29) == 0.5**3
    assert f(30) == 0.01
    assert f(HUGE) == 0.01


@pytest.mark.parametrize("t", [0, 1, 49, 50, 51, 150, 1050, HUGE])
def test_warmup_then_cosine(t: int) -> None:
    W, T = 50, 1000
    if t < W:
        expected = t / W
    else:
        u = min(t - W, T)
        expected = 0.5 * (1 + math.cos(math.pi * u / T))
    f = fn({"type": "warmup", "steps": W, "then": {"type": "cosine", "decay_steps": T}})
    assert f(t) == pytest.approx(expected, abs=1e-15)


def test_warmup_defaults_to_constant_after_and_start_mult() -> None:
    f = fn({"type": "warmup", "steps": 4, "start_mult": 0.2})
    assert [f(t) for t in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_warmup_equals_sequence_of_linear_and_then() -> None:
    then = {"type": "step", "step_size": 3, "gamma": 0.5}
    a = fn({"type": "warmup", "steps": 5, "start_mult": 0.1, "then": then})
    b = fn(
        {
            "type": "sequence",
            "schedules": [{"type": "linear", "start_mult": 0.1, "end_mult": 1.0, "steps": 5}, then],
            "boundaries": [5],
        }
    )
    assert [a(t) for t in range(40)] == [b(t) for t in range(40)]


ALL_NODES = [
    {"type": "constant"},
    {"type": "exponential", "decay_rate": 0.9, "decay_steps": 3},
    {"type": "step", "step_size": 3},
    {"type": "multistep", "milestones": [2, 4]},
    {"type": "piecewise", "boundaries": [3], "values": [1.0, 0.5]},
    {"type": "cosine", "decay_steps": 7},
    {"type": "polynomial", "decay_steps": 7, "power": 0.5},
    {"type": "linear", "start_mult": 1.0, "end_mult": 0.5, "steps": 3},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 2},
    {"type": "sequence", "schedules": [{"type": "constant"}, {"type": "cosine", "decay_steps": 3}], "boundaries": [2]},
    {"type": "warmup", "steps": 3},
]


@pytest.mark.parametrize("data", ALL_NODES, ids=[str(d["type"]) for d in ALL_NODES])
def test_every_schedule_returns_finite_python_floats_including_huge_t(data: dict[str, object]) -> None:
    f = fn(data)
    for t in (0, 1, 2, 3, 10, 10**6, HUGE):
        value = f(t)
        assert isinstance(value, float)
        assert math.isfinite(value) and value >= 0.0


@pytest.mark.parametrize("data", ALL_NODES, ids=[str(d["type"]) for d in ALL_NODES])
def test_describe_names_the_schedule(data: dict[str, object]) -> None:
    text = S.describe(node(data))
    if data["type"] == "sequence":
        assert text == "constant then cosine(T=3, min=0)"
    else:
        assert text.startswith(str(data["type"]))


def test_from_spec_rejects_a_non_schedule() -> None:
    with pytest.raises(TypeError, match="not a schedule node"):
        S.from_spec({"type": "constant"})


# ------------------------------------------------------------------ from_dict: the one interpreter

W, T = 4, 6  # warmup length and cosine length of the nested cases below


def _cos(u: int, T: int, lo: float = 0.0) -> float:
    return lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * min(u, T) / T))


def _nested_sequence(t: int) -> float:
    # [warmup(W, start 0.2) then step(2, 0.5)] until 10, then constant 0.3 until 14, then cosine(T)
    if t < 10:
        return 0.2 + 0.8 * t / W if t < W else 0.5 ** ((t - W) // 2)
    if t < 14:
        return 0.3
    return _cos(t - 14, T)


def _warmup_of_sequence(t: int) -> float:
    # warmup(W) then [linear 1 -> 0.5 over 2, then exponential(0.5 per 3, staircase)] from 2 on
    if t < W:
        return t / W
    u = t - W
    return 1.0 - 0.5 * min(u, 2) / 2 if u < 2 else 0.5 ** ((u - 2) // 3)


FORMULAS: list[tuple[dict[str, object], object, list[int]]] = [
    ({"type": "constant", "value": 0.25}, lambda t: 0.25, [0, 1, HUGE]),
    (
        {"type": "exponential", "decay_rate": 0.5, "decay_steps": 3, "staircase": True},
        lambda t: 0.5 ** (t // 3),
        [0, 2, 3, 5, 6],
    ),
    (
        {"type": "exponential", "decay_rate": 0.9, "decay_steps": 3},
        lambda t: math.exp(t / 3 * math.log(0.9)),
        [0, 1, 3, 7],
    ),
    ({"type": "step", "step_size": 3, "gamma": 0.5}, lambda t: 0.5 ** (t // 3), [0, 2, 3, 4, 6]),
    (
        {"type": "multistep", "milestones": [2, 5], "gamma": 0.5},
        lambda t: 0.5 ** ((t >= 2) + (t >= 5)),
        [0, 1, 2, 4, 5, 9],
    ),
    (
        {"type": "piecewise", "boundaries": [2, 5], "values": [1.0, 0.5, 0.1]},
        lambda t: 1.0 if t < 2 else 0.5 if t < 5 else 0.1,
        [1, 2, 4, 5],
    ),
    ({"type": "cosine", "decay_steps": T, "min_mult": 0.1}, lambda t: _cos(t, T, 0.1), [0, 3, T - 1, T, T + 1, HUGE]),
    (
        {"type": "polynomial", "decay_steps": 4, "power": 2.0, "end_mult": 0.1},
        lambda t: 0.1 + 0.9 * (1 - min(t, 4) / 4) ** 2,
        [0, 3, 4, 5],
    ),
    (
        {"type": "linear", "start_mult": 0.5, "end_mult": 1.0, "steps": 4},
        lambda t: 0.5 + 0.5 * min(t, 4) / 4,
        [0, 3, 4, 5],
    ),
    ({"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 2}, lambda t: 1 / (1 + 0.5 * t / 2), [0, 1, 2, 9]),
    (
        {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 2, "staircase": True},
        lambda t: 1 / (1 + 0.5 * (t // 2)),
        [0, 1, 2, 3],
    ),
    (
        {"type": "warmup", "steps": W, "start_mult": 0.2},
        lambda t: 0.2 + 0.8 * min(t, W) / W,
        [0, W - 1, W, W + 1, HUGE],
    ),
    (
        {
            "type": "sequence",
            "boundaries": [10, 14],
            "schedules": [
                {
                    "type": "warmup",
                    "steps": W,
                    "start_mult": 0.2,
                    "then": {"type": "step", "step_size": 2, "gamma": 0.5},
                },
                {"type": "constant", "value": 0.3},
                {"type": "cosine", "decay_steps": T},
            ],
        },
        _nested_sequence,
        [0, W - 1, W, W + 1, W + 2, 9, 10, 13, 14, 14 + T - 1, 14 + T, 14 + T + 1, HUGE],
    ),
    (
        {
            "type": "warmup",
            "steps": W,
            "then": {
                "type": "sequence",
                "boundaries": [2],
                "schedules": [
                    {"type": "linear", "start_mult": 1.0, "end_mult": 0.5, "steps": 2},
                    {"type": "exponential", "decay_rate": 0.5, "decay_steps": 3, "staircase": True},
                ],
            },
        },
        _warmup_of_sequence,
        [0, W - 1, W, W + 1, W + 2, W + 4, W + 5, W + 6, HUGE],
    ),
]


@pytest.mark.parametrize(
    ("data", "formula", "steps"), FORMULAS, ids=[f"{d['type']}-{k}" for k, (d, _, _) in enumerate(FORMULAS)]
)
def test_from_dict_is_from_spec_and_the_formula(data: dict[str, object], formula: object, steps: list[int]) -> None:
    spec_node = node(data)
    json_form = spec_node.model_dump(mode="json")  # type: ignore[attr-defined]
    by_dict, by_spec = S.from_dict(json_form), S.from_spec(spec_node)
    assert callable(formula)
    for t in sorted({*steps, *range(25)}):
        assert by_dict(t) == by_spec(t), t
        assert by_dict(t) == pytest.approx(formula(t), rel=1e-12, abs=1e-15), t


def test_from_dict_rejects_an_unknown_type() -> None:
    with pytest.raises(TypeError, match="not a schedule node"):
        S.from_dict({"type": "nope"})
