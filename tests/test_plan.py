"""The Plan IR: per-group lr(t), freezes, lookups, serialisation."""

from __future__ import annotations

import json

import pytest

from lrspec import ParamInfo, Plan, PlanGroup, Spec, resolve


@pytest.fixture()
def plan() -> Plan:
    spec = Spec.model_validate(
        {
            "version": 1,
            "optimizer": {"type": "adam", "lr": 0.01, "weight_decay": 0.1},
            "schedule": {"type": "step", "step_size": 10, "gamma": 0.5},
            "groups": [
                {"name": "stem", "params": ["stem.*"], "freeze": {"until_step": 3}, "lr_mult": 0.1},
                {"name": "frozen", "params": ["emb.*"], "freeze": True},
                {"name": "nd", "params": ["*.bias"], "weight_decay": 0.0, "eps": 1e-6},
            ],
        }
    )
    return resolve(spec, {"stem.w": [4, 3], "emb.w": [10, 4], "head.w": [2, 4], "head.bias": [2]})


def test_lr_at_follows_the_formula(plan: Plan) -> None:
    head = plan.group_of("head.w")
    for t in (0, 9, 10, 25, 10**9):
        assert head.multiplier(t) == 0.5 ** (t // 10)
        assert head.lr_at(t) == pytest.approx(0.01 * 0.5 ** (t // 10))
        assert plan.lr("head.w", t) == head.lr_at(t)


def test_freeze_until_and_permanent(plan: Plan) -> None:
    stem = plan.group_of("stem.w")
    assert [stem.is_frozen_at(t) for t in range(5)] == [True, True, True, False, False]
    assert [plan.lr("stem.w", t) for t in (0, 2)] == [0.0, 0.0]
    assert plan.lr("stem.w", 3) == pytest.approx(0.001)
    assert plan.lr("stem.w", 10) == pytest.approx(0.0005)  # global clock
    emb = plan.group_of("emb.w")
    assert emb.frozen and emb.is_frozen_at(10**6) and plan.lr("emb.w", 10**6) == 0.0
    assert (emb.lr, emb.weight_decay) == (0.0, 0.0)
    assert plan.frozen_params == ("emb.w",)
    assert emb not in plan.trainable_groups and stem in plan.trainable_groups


def test_param_info(plan: Plan) -> None:
    info = plan.param("head.bias")
    assert isinstance(info, ParamInfo)
    assert info.matched == ("nd",) and info.shape == (2,) and info.layer is None
    assert info.group is plan.group_of("head.bias")
    assert info.group.hyperparameters == {"betas": (0.9, 0.999), "eps": 1e-6, "amsgrad": False}
    assert info.group.weight_decay == 0.0


def test_group_fields_and_names(plan: Plan) -> None:
    assert all(isinstance(g, PlanGroup) for g in plan.groups)
    assert [g.params for g in plan.groups] == [("stem.w",), ("emb.w",), ("head.w",), ("head.bias",)]
    assert [g.sources for g in plan.groups] == [("stem",), ("frozen",), (), ("nd",)]
    assert [g.name for g in plan.groups] == ["stem", "frozen", "default", "nd"]
    assert plan.family == "adam" and not plan.decoupled_weight_decay
    assert plan.names == ("stem.w", "emb.w", "head.w", "head.bias")


def test_group_to_dict(plan: Plan) -> None:
    d = plan.group_of("stem.w").to_dict()
    assert d == {
        "name": "stem",
        "params": ["stem.w"],
        "sources": ["stem"],
        "lr": pytest.approx(0.001),
        "weight_decay": 0.1,
        "hyperparameters": {"betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": False},
        "schedule": {"type": "step", "step_size": 10, "gamma": 0.5},
        "frozen": False,
        "frozen_until": 3,
        "layer": None,
    }
    json.dumps(plan.to_dict())
