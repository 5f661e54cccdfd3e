"""The spec models: defaults, immutability, strictness, the shorthand forms."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from lrspec import Spec, SpecError
from lrspec.spec.models import FAMILY_HYPERPARAMETERS, ConstantSchedule, FreezeUntil, Group


def spec(**extra: Any) -> Spec:
    data: dict[str, Any] = {"version": 1, "optimizer": {"type": "sgd"}}
    data.update(extra)
    return Spec.model_validate(data)


def test_minimal_spec_defaults() -> None:
    s = spec()
    assert s.version == 1
    assert s.schedule == ConstantSchedule(type="constant", value=1.0)
    assert s.groups == [] and s.layer_decay is None and s.unmatched == "train"


@pytest.mark.parametrize(
    ("family", "fields"),
    [
        ("sgd", {"lr": 1e-3, "weight_decay": 0.0, "momentum": 0.0, "dampening": 0.0, "nesterov": False}),
        ("adam", {"lr": 1e-3, "weight_decay": 0.0, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}),
        ("adamw", {"lr": 1e-3, "weight_decay": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}),
        ("rmsprop", {"lr": 1e-2, "weight_decay": 0.0, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False}),
        ("adagrad", {"lr": 1e-2, "weight_decay": 0.0, "lr_decay": 0.0, "eps": 1e-10, "initial_accumulator_value": 0.0}),
    ],
)
def test_optimizer_defaults_are_torchs(family: str, fields: dict[str, Any]) -> None:
    opt = spec(optimizer={"type": family}).optimizer
    assert {k: getattr(opt, k) for k in fields} == fields
    assert set(type(opt).model_fields) == {"type", "lr", "weight_decay", *FAMILY_HYPERPARAMETERS[family]}


def test_integers_are_accepted_for_floats_but_strings_and_bools_are_not() -> None:
    assert spec(optimizer={"type": "sgd", "lr": 1}).optimizer.lr == 1.0
    with pytest.raises(SpecError, match=re.escape("expected a number, got the string '0.1'")):
        spec(optimizer={"type": "sgd", "lr": "0.1"})
    with pytest.raises(SpecError, match=re.escape("optimizer.lr: expected a number, got a boolean")):
        spec(optimizer={"type": "sgd", "lr": True})
    with pytest.raises(SpecError, match=re.escape("schedule.step_size: expected an integer, got a boolean")):
        spec(schedule={"type": "step", "step_size": True})


def test_freeze_forms() -> None:
    groups = [
        {"name": "a", "params": ["a"], "freeze": True},
        {"name": "b", "params": ["b"], "freeze": False},
        {"name": "c", "params": ["c"], "freeze": {"until_step": 10}},
        {"name": "d", "params": ["d"]},
    ]
    s = spec(groups=groups)
    assert [g.freeze for g in s.groups] == [True, False, FreezeUntil(until_step=10), None]


def test_spec_is_immutable_and_hashable_where_pydantic_allows() -> None:
    s = spec(groups=[{"name": "a", "params": ["a"]}])
    with pytest.raises(ValidationError):
        s.unmatched = "error"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.groups[0].lr = 1.0  # type: ignore[misc]


def test_group_hyperparameters_set() -> None:
    g = Group.model_validate({"name": "g", "params": ["x"], "momentum": 0.5, "nesterov": True, "lr": 0.1})
    assert g.hyperparameters_set() == {"momentum": 0.5, "nesterov": True}


def test_betas_list_becomes_tuple_and_is_checked() -> None:
    assert spec(optimizer={"type": "adam", "betas": [0.5, 0.6]}).optimizer.betas == (0.5, 0.6)
    with pytest.raises(SpecError, match=r"optimizer.betas\[0\]: must be >= 0"):
        spec(optimizer={"type": "adam", "betas": [-0.1, 0.6]})
    with pytest.raises(SpecError, match=re.escape("optimizer.betas: must have at most 2 item")):
        spec(optimizer={"type": "adam", "betas": [0.1, 0.2, 0.3]})


def test_group_names_allow_dots_and_dashes() -> None:
    s = spec(groups=[{"name": "head.fc-2_x", "params": ["x"]}])
    assert s.groups[0].name == "head.fc-2_x"


def test_nested_schedules_validate_recursively() -> None:
    s = spec(
        schedule={
            "type": "sequence",
            "schedules": [{"type": "warmup", "steps": 5, "then": {"type": "step", "step_size": 2}}, {"type": "constant"}],
            "boundaries": [20],
        }
    )
    assert s.schedule.type == "sequence"


def test_nesterov_with_momentum_is_valid_and_dampening_blocks_it() -> None:
    assert spec(optimizer={"type": "sgd", "momentum": 0.9, "nesterov": True}).optimizer.nesterov is True
    with pytest.raises(SpecError, match=re.escape("optimizer.nesterov: nesterov needs momentum > 0 and dampening = 0")):
        spec(optimizer={"type": "sgd", "momentum": 0.9, "dampening": 0.1, "nesterov": True})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as info:
        spec(
            optimizer={"type": "adam", "lr": -1, "betas": [2, 0.9]},
            schedule={"type": "cosine", "decay_steps": 0},
            groups=[{"name": "a", "params": ["re:("]}, {"name": "a", "params": ["x"], "momentum": 0.1}],
            unmatched="sometimes",
        )
    locations = sorted(p.location for p in info.value.problems)
    assert locations == sorted(
        [
            "optimizer.lr",
            "optimizer.betas[0]",
            "schedule.decay_steps",
            "groups[0].params[0]",
            "groups[1].name",
            "groups[1].momentum",
            "unmatched",
        ]
    )
    assert str(info.value).startswith("invalid spec (7 problems):")


def test_a_non_mapping_is_one_clear_error() -> None:
    with pytest.raises(SpecError, match=re.escape("a spec must be a mapping with keys version, optimizer, ...; got a list")):
        Spec.model_validate([1, 2])
