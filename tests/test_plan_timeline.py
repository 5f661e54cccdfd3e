"""The Plan's timeline methods (lrs_at, freeze_timeline, trains_from) against the plan's formulas,
and the consumers that read them (plotting's spec curves)."""

from __future__ import annotations

import importlib
import math

import lrspec
from lrspec.resolve import resolve
from lrspec.tools.plotting import spec_curves

SPEC = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1},
    "schedule": {"type": "cosine", "decay_steps": 10},
    "groups": [
        {"name": "stem", "params": ["stem.*"], "freeze": True},
        {"name": "late", "params": ["late.*"], "freeze": {"until_step": 3}, "lr_mult": 0.5},
        {"name": "later", "params": ["later.*"], "freeze": {"until_step": 7}, "lr": 0.02},
        {"name": "also", "params": ["also.*"], "freeze": {"until_step": 3}, "schedule": {"type": "constant"}},
    ],
}
NAMES = ["stem.w", "late.w", "later.w", "also.w", "head.w"]


def _cos(t: int) -> float:
    return (1 + math.cos(math.pi * min(t, 10) / 10)) / 2


def _plan() -> lrspec.Plan:
    return resolve(lrspec.validate(SPEC), NAMES)


def test_trains_from() -> None:
    plan = _plan()
    got = {n: plan.group_of(n).trains_from for n in NAMES}
    assert got == {"stem.w": None, "late.w": 3, "later.w": 7, "also.w": 3, "head.w": 0}


def test_freeze_timeline_lists_unfreeze_steps_in_order() -> None:
    plan = _plan()
    timeline = [(n, [p for g in groups for p in g.params]) for n, groups in plan.freeze_timeline()]
    assert timeline == [(3, ["late.w", "also.w"]), (7, ["later.w"])]


def test_lrs_at_is_lr_at_of_every_group_and_follows_the_formula() -> None:
    plan = _plan()
    base = {"stem.w": 0.0, "late.w": 0.05, "later.w": 0.02, "head.w": 0.1}
    starts = {"stem.w": math.inf, "late.w": 3, "later.w": 7, "also.w": 3, "head.w": 0}
    for t in range(12):
        assert plan.lrs_at(t) == [g.lr_at(t) for g in plan.groups]
        for n in NAMES:
            m = 1.0 if n == "also.w" else _cos(t)
            expected = 0.0 if t < starts[n] else base.get(n, 0.1) * m
            assert plan.lr(n, t) == expected
    some = plan.groups[1:3]
    assert plan.lrs_at(5, some) == [g.lr_at(5) for g in some]


def test_spec_curves_follow_the_cascade_of_each_group_alone() -> None:
    curves = {c.name: c for c in spec_curves(lrspec.validate(SPEC), 12)}
    assert list(curves) == ["stem", "late", "later", "also", "default"]
    assert curves["stem"].frozen and set(curves["stem"].values) == {0.0}
    assert curves["late"].values == tuple(0.0 if t < 3 else 0.1 * 0.5 * _cos(t) for t in range(12))
    assert curves["later"].values == tuple(0.0 if t < 7 else 0.02 * _cos(t) for t in range(12))
    assert curves["also"].values == tuple(0.0 if t < 3 else 0.1 for t in range(12))
    assert curves["default"].values == tuple(0.1 * _cos(t) for t in range(12))


def test_resolve_is_a_package_exporting_resolve() -> None:
    package = importlib.import_module("lrspec.resolve")
    assert package.__file__ is not None and package.__file__.endswith("__init__.py")
    assert lrspec.resolve is resolve
