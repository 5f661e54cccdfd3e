"""Numbers: no inf, no 0 by underflow, no OverflowError, no int64 overflow later, no truncation.

Every value a float64 cannot hold is one clear LrSpecError naming where it comes from."""

from __future__ import annotations

import math
from typing import Any

import pytest

import lrspec

NAMES = ["a.w", "b.w", "c.w"]


def _spec(**data: Any) -> lrspec.Spec:
    return lrspec.validate({"version": 1, "optimizer": {"type": "sgd", "lr": 0.1}, **data})


@pytest.mark.parametrize(
    ("optimizer", "group", "where"),
    [
        ({"lr": 1e308}, {"lr_mult": 1e10}, "lr_mult"),
        ({"lr": 1e-300}, {"lr_mult": 1e-300}, "lr_mult"),
        ({"weight_decay": 1e308}, {"decay_mult": 1e10}, "decay_mult"),
        ({"weight_decay": 1e-300}, {"decay_mult": 1e-300}, "decay_mult"),
    ],
)
def test_cascade_products_outside_float64_are_errors(
    optimizer: dict[str, Any], group: dict[str, Any], where: str
) -> None:
    data = {
        "version": 1,
        "optimizer": {"type": "sgd", **optimizer},
        "groups": [{"name": "g", "params": ["a.w"], **group}],
    }
    with pytest.raises(lrspec.SpecError, match=rf"groups\[0\]\.{where}: .*(overflows to inf|underflows to 0)"):
        lrspec.validate(data)


def test_cascade_guard_at_resolve_time() -> None:
    # the default lr is the family's (not in the data): the resolver checks the product too
    spec = lrspec.validate(
        {"version": 1, "optimizer": {"type": "sgd"}, "groups": [{"name": "g", "params": ["a.w"], "lr_mult": 1e-322}]}
    )
    with pytest.raises(lrspec.ResolveError, match=r"group .g.*underflows to 0"):
        lrspec.resolve(spec, NAMES)


@pytest.mark.parametrize(("rate", "kind"), [(1e-200, "underflows to 0"), (1e200, "overflows to inf")])
def test_layer_decay_outside_float64(rate: float, kind: str) -> None:
    spec = _spec(layer_decay={"rate": rate, "layers": ["a.*", "b.*", "c.*"]})
    with pytest.raises(lrspec.ResolveError, match=kind):
        lrspec.resolve(spec, NAMES)


def test_layer_decay_lr_overflow() -> None:
    spec = lrspec.validate(
        {
            "version": 1,
            "optimizer": {"type": "sgd", "lr": 1e300},
            "layer_decay": {"rate": 1e10, "layers": ["a.*", "b.*"]},
        }
    )
    with pytest.raises(lrspec.ResolveError, match="overflows to inf"):
        lrspec.resolve(spec, NAMES)


def test_finite_extremes_still_resolve() -> None:
    spec = _spec(layer_decay={"rate": 1e-100, "layers": ["a.*", "b.*", "c.*"]})
    plan = lrspec.resolve(spec, NAMES)
    assert [g.lr for g in plan.groups] == [0.1 * 1e-100**2, 0.1 * 1e-100, 0.1]
    assert all(math.isfinite(g.lr) and g.lr > 0 for g in plan.groups)


@pytest.mark.parametrize(
    ("schedule", "location"),
    [
        ({"type": "step", "step_size": 2**63}, "schedule.step_size"),
        ({"type": "multistep", "milestones": [1, 2**64]}, "schedule.milestones[1]"),
        ({"type": "piecewise", "boundaries": [10**30], "values": [1, 0.1]}, "schedule.boundaries[0]"),
        ({"type": "cosine", "decay_steps": 10**100}, "schedule.decay_steps"),
        ({"type": "warmup", "steps": 2**63}, "schedule.steps"),
    ],
)
def test_integers_beyond_int64_are_rejected_with_a_location(schedule: dict[str, Any], location: str) -> None:
    with pytest.raises(lrspec.SpecError, match="int64") as info:
        _spec(schedule=schedule)
    assert info.value.problems[0].location == location


def test_until_step_beyond_int64() -> None:
    with pytest.raises(lrspec.SpecError, match="int64") as info:
        _spec(groups=[{"name": "g", "params": ["*"], "freeze": {"until_step": 2**63}}])
    assert info.value.problems[0].location == "groups[0].freeze.until_step"


def test_huge_integer_lr_gets_a_sensible_message() -> None:
    with pytest.raises(lrspec.SpecError) as info:
        lrspec.validate({"version": 1, "optimizer": {"type": "sgd", "lr": 10**400}})
    message = info.value.problems[0].message
    assert "too large" in message and "expected a number" not in message


@pytest.mark.parametrize("version", [True, 1.0])
def test_version_only_the_integer_1(version: object) -> None:
    with pytest.raises(lrspec.SpecError, match="version: must be the integer 1"):
        lrspec.validate({"version": version, "optimizer": {"type": "sgd"}})


@pytest.mark.parametrize("shape", [[2.7], [True], ["2"], [2**63], [1.0]])
def test_shapes_are_never_truncated(shape: list[Any]) -> None:
    with pytest.raises(lrspec.ResolveError, match="invalid shape"):
        lrspec.resolve(_spec(), {"a.w": shape})


def test_integer_like_shapes_are_fine() -> None:
    import numpy as np

    plan = lrspec.resolve(_spec(), {"a.w": (np.int64(2), 3), "b.w": ()})
    assert plan.names == ("a.w", "b.w")
