"""Optimizer families in the spec (issue 14): the K1 constants against torch's own signatures,
the spec nodes, a family per group as a cascade setting, the Plan's family fields, and the
errors (a key the family lacks, muon's 2-D restriction, lr inside a group's optimizer)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import lrspec
from lrspec.spec.families import (
    FAMILIES,
    FAMILY_DEFAULTS,
    FAMILY_HYPERPARAMETERS,
    TORCH_CLASSES,
    decoupled_weight_decay,
)
from lrspec.spec.optimizers import OPTIMIZER_MODELS

NEW = ("nadam", "radam", "adamax", "adadelta", "adafactor", "muon")
NOT_HYPERPARAMETERS = {"params", "foreach", "maximize", "capturable", "differentiable", "fused"}


def spec(**extra: Any) -> lrspec.Spec:
    data: dict[str, Any] = {"version": 1, "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05}}
    data.update(extra)
    return lrspec.validate(data)


PARAMS = {"fc.weight": (4, 3), "fc.bias": (4,), "norm.weight": (4,), "conv.weight": (2, 1, 3, 3)}


def test_families_are_the_old_ones_then_the_new_ones() -> None:
    assert ("sgd", "adam", "adamw", "rmsprop", "adagrad", *NEW) == FAMILIES
    for family in FAMILIES:
        assert FAMILY_HYPERPARAMETERS[family] == tuple(
            k for k in FAMILY_DEFAULTS[family] if k not in ("lr", "weight_decay")
        )


@pytest.mark.torch
@pytest.mark.parametrize("family", FAMILIES)
def test_defaults_are_torchs(family: str) -> None:
    """Names and defaults read from the torch.optim class's own signature."""
    torch = pytest.importorskip("torch")
    cls = getattr(torch.optim, TORCH_CLASSES[family].rsplit(".", 1)[1])
    signature = inspect.signature(cls.__init__)
    torch_defaults = {
        name: p.default
        for name, p in signature.parameters.items()
        if name != "self" and name not in NOT_HYPERPARAMETERS and p.kind is not p.VAR_KEYWORD
    }
    if family == "adam":  # torch's Adam(decoupled_weight_decay=True) is AdamW: the spec says adamw
        assert torch_defaults.pop("decoupled_weight_decay") is False
    assert set(torch_defaults) == set(FAMILY_DEFAULTS[family])
    for name, value in torch_defaults.items():
        assert FAMILY_DEFAULTS[family][name] == value, (family, name)


@pytest.mark.parametrize("model", OPTIMIZER_MODELS, ids=lambda m: m.__name__)
def test_each_node_defaults_to_the_family_defaults(model: Any) -> None:
    family = model.model_fields["type"].annotation.__args__[0]
    node = model(type=family)
    assert {k: getattr(node, k) for k in FAMILY_DEFAULTS[family]} == FAMILY_DEFAULTS[family]


def test_top_level_new_families_validate_and_resolve() -> None:
    for family in NEW:
        plan = lrspec.resolve(lrspec.validate({"version": 1, "optimizer": {"type": family}}), {"w": (3, 2)})
        (group,) = plan.groups
        assert group.family == family and plan.families == (family,) and not plan.mixed_families
        assert dict(group.hyperparameters) == {k: FAMILY_DEFAULTS[family][k] for k in FAMILY_HYPERPARAMETERS[family]}
        assert (
            group.lr == FAMILY_DEFAULTS[family]["lr"] and group.weight_decay == FAMILY_DEFAULTS[family]["weight_decay"]
        )


def test_adafactor_eps_pair_with_null() -> None:
    s = lrspec.validate({"version": 1, "optimizer": {"type": "adafactor", "eps": [None, 1e-4]}})
    assert lrspec.resolve(s, ["w"]).groups[0].hyperparameters["eps"] == (None, 1e-4)
    with pytest.raises(lrspec.SpecError, match=r"optimizer\.eps"):
        lrspec.validate({"version": 1, "optimizer": {"type": "adafactor", "eps": 1e-3}})


@pytest.mark.parametrize(
    ("optimizer", "where", "fragment"),
    [
        ({"type": "muon", "adjust_lr_fn": "sqrt"}, "optimizer.adjust_lr_fn", "'original' or 'match_rms_adamw'"),
        ({"type": "muon", "ns_steps": 100}, "optimizer.ns_steps", "must be < 100"),
        ({"type": "muon", "ns_coefficients": [1.0, 2.0]}, "optimizer.ns_coefficients", "too few items"),
        ({"type": "adafactor", "beta2_decay": 0.5}, "optimizer.beta2_decay", "must be <= 0"),
        ({"type": "adafactor", "d": 0.5}, "optimizer.d", "must be >= 1"),
        ({"type": "adadelta", "rho": 1.5}, "optimizer.rho", "must be <= 1"),
        ({"type": "nadam", "momentum_decay": -1.0}, "optimizer.momentum_decay", "must be >= 0"),
        ({"type": "radam", "amsgrad": True}, "optimizer.amsgrad", "'amsgrad' is not a hyperparameter of radam"),
    ],
)
def test_new_family_validation_messages(optimizer: dict[str, Any], where: str, fragment: str) -> None:
    with pytest.raises(lrspec.SpecError) as info:
        lrspec.validate({"version": 1, "optimizer": optimizer})
    assert [p.location for p in info.value.problems] == [where]
    assert fragment in info.value.problems[0].message


def test_decoupled_weight_decay_rule() -> None:
    for family in ("adamw", "muon", "adafactor"):
        assert decoupled_weight_decay(family, {})
    for family in ("sgd", "adam", "rmsprop", "adagrad", "adamax", "adadelta"):
        assert not decoupled_weight_decay(family, {})
    for family in ("nadam", "radam"):
        assert not decoupled_weight_decay(family, {"decoupled_weight_decay": False})
        assert decoupled_weight_decay(family, {"decoupled_weight_decay": True})
    plan = lrspec.resolve(
        spec(
            groups=[{"name": "n", "params": ["fc.*"], "optimizer": {"type": "nadam", "decoupled_weight_decay": True}}]
        ),
        PARAMS,
    )
    assert plan.group_of("fc.weight").decoupled_weight_decay and plan.group_of("conv.weight").decoupled_weight_decay
    top = lrspec.resolve(
        lrspec.validate({"version": 1, "optimizer": {"type": "radam", "decoupled_weight_decay": True}}), ["w"]
    )
    assert top.decoupled_weight_decay and top.groups[0].decoupled_weight_decay


# ------------------------------------------------------------------ a family per group


def test_group_family_uses_torch_defaults_not_the_top_level_ones() -> None:
    s = lrspec.validate(
        {
            "version": 1,
            "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05, "betas": [0.9, 0.95], "eps": 1e-6},
            "groups": [{"name": "fresh", "params": ["fc.*"], "optimizer": {"type": "adamw", "amsgrad": True}}],
        }
    )
    plan = lrspec.resolve(s, PARAMS)
    fresh, rest = plan.group_of("fc.weight"), plan.group_of("conv.weight")
    assert dict(fresh.hyperparameters) == {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": True}
    assert dict(rest.hyperparameters) == {"betas": (0.9, 0.95), "eps": 1e-6, "amsgrad": False}
    # lr and weight decay come from the cascade (the top-level optimizer here), not the family's defaults
    assert (fresh.lr, fresh.weight_decay) == (1e-3, 0.05)


def test_last_matching_group_decides_the_family_and_later_shortcuts_override() -> None:
    s = spec(
        groups=[
            {"name": "mats", "params": ["*.weight"], "optimizer": {"type": "sgd", "momentum": 0.5}, "lr": 0.1},
            {"name": "fc", "params": ["fc.*"], "optimizer": {"type": "muon", "ns_steps": 3}},
            {"name": "fc_w", "params": ["fc.weight"], "momentum": 0.8},
            {"name": "conv", "params": ["conv.*"], "dampening": 0.1},
        ]
    )
    plan = lrspec.resolve(s, {"fc.weight": (4, 3), "conv.weight": (2, 1, 3, 3), "norm.weight": (4,)})
    fc = plan.group_of("fc.weight")
    assert fc.family == "muon" and fc.lr == 0.1  # the lr still cascades from "mats"
    assert fc.hyperparameters["ns_steps"] == 3 and fc.hyperparameters["momentum"] == 0.8
    assert fc.hyperparameters["nesterov"] is True  # muon's torch default, not sgd's
    conv = plan.group_of("conv.weight")
    assert conv.family == "sgd" and dict(conv.hyperparameters) == {"momentum": 0.5, "dampening": 0.1, "nesterov": False}
    assert plan.group_of("norm.weight").family == "sgd"
    assert plan.families == ("muon", "sgd") and plan.mixed_families
    assert plan.family == "adamw"  # the top-level type, unchanged


def test_families_are_listed_in_first_appearance_order_frozen_included() -> None:
    s = spec(
        groups=[
            {"name": "m", "params": ["fc.weight"], "optimizer": {"type": "muon"}},
            {"name": "f", "params": ["norm.*"], "freeze": True},
        ]
    )
    plan = lrspec.resolve(s, PARAMS)
    assert [g.family for g in plan.groups] == ["muon", "adamw", "adamw"]
    assert plan.families == ("muon", "adamw")
    frozen = plan.group_of("norm.weight")
    assert frozen.frozen and frozen.family == "adamw"


def test_a_frozen_parameter_of_a_group_family_resets_to_the_top_level_family() -> None:
    s = spec(groups=[{"name": "m", "params": ["*"], "optimizer": {"type": "muon"}, "freeze": True}])
    plan = lrspec.resolve(s, PARAMS)  # 1-D and 4-D parameters are fine: never optimized
    (group,) = plan.groups
    assert group.frozen and group.family == "adamw" and plan.families == ("adamw",)


def test_shortcut_key_the_effective_family_lacks_is_a_resolve_error() -> None:
    s = spec(
        groups=[
            {"name": "m", "params": ["fc.weight"], "optimizer": {"type": "muon"}},
            {"name": "all", "params": ["*"], "betas": [0.9, 0.9]},
        ]
    )
    with pytest.raises(lrspec.ResolveError, match=r"group 'all' sets 'betas'.*optimized by muon \(set by group 'm'\)"):
        lrspec.resolve(s, PARAMS)


def test_eps_kind_is_checked_against_the_effective_family() -> None:
    s = spec(
        groups=[
            {"name": "fact", "params": ["fc.*"], "optimizer": {"type": "adafactor"}},
            {"name": "pair", "params": ["*"], "eps": [None, 1e-4]},
        ]
    )
    with pytest.raises(lrspec.ResolveError, match=r"group 'pair' sets eps = \[None, 0.0001\].*adamw"):
        lrspec.resolve(s, PARAMS)
    ok = spec(
        groups=[
            {"name": "fact", "params": ["fc.*"], "optimizer": {"type": "adafactor"}},
            {"name": "pair", "params": ["fc.*"], "eps": [None, 1e-4]},
        ]
    )
    assert lrspec.resolve(ok, PARAMS).group_of("fc.bias").hyperparameters["eps"] == (None, 1e-4)


@pytest.mark.parametrize(
    ("group", "where", "fragment"),
    [
        (
            {"optimizer": {"type": "muon", "lr": 0.02}},
            "groups[0].optimizer.lr",
            "the group's lr comes from its own keys lr or lr_mult",
        ),
        (
            {"optimizer": {"type": "muon", "weight_decay": 0.1}},
            "groups[0].optimizer.weight_decay",
            "weight_decay or decay_mult",
        ),
        (
            {"optimizer": {"type": "moon"}},
            "groups[0].optimizer.type",
            "unknown optimizer type 'moon' (did you mean 'muon'?)",
        ),
        (
            {"optimizer": {"type": "muon", "betas": [0.9, 0.9]}},
            "groups[0].optimizer.betas",
            "'betas' is not a hyperparameter of muon",
        ),
        (
            {"optimizer": {"type": "sgd", "nesterov": True}},
            "groups[0].optimizer.nesterov",
            "nesterov needs momentum > 0",
        ),
        ({"momentum": 0.9}, "groups[0].momentum", "'momentum' is not a hyperparameter of adamw"),
        (
            {"optimizer": {"type": "muon"}, "betas": [0.9, 0.9]},
            "groups[0].betas",
            "'betas' is not a hyperparameter of muon",
        ),
        ({"eps": [None, 1e-3]}, "groups[0].eps", "eps is a number for adamw"),
    ],
)
def test_group_family_spec_errors(group: dict[str, Any], where: str, fragment: str) -> None:
    with pytest.raises(lrspec.SpecError) as info:
        spec(groups=[{"name": "g", "params": ["*"], **group}])
    assert [p.location for p in info.value.problems] == [where], info.value.problems
    assert fragment in info.value.problems[0].message


def test_shortcut_keys_of_a_reachable_group_family_validate() -> None:
    s = spec(
        groups=[
            {"name": "m", "params": ["fc.weight"], "optimizer": {"type": "muon"}},
            {"name": "mm", "params": ["fc.weight"], "momentum": 0.9, "ns_steps": 7},
        ]
    )
    g = lrspec.resolve(s, PARAMS).group_of("fc.weight")
    assert (g.hyperparameters["momentum"], g.hyperparameters["ns_steps"]) == (0.9, 7)


def test_muon_takes_only_matrices() -> None:
    s = spec(groups=[{"name": "everything", "params": ["*"], "optimizer": {"type": "muon"}}])
    with pytest.raises(lrspec.ResolveError) as info:
        lrspec.resolve(s, PARAMS)
    text = str(info.value)
    assert "muon takes only 2-D parameters, but group 'everything' gives it" in text
    assert "fc.bias (1-D)" in text and "conv.weight (4-D)" in text and "fc.weight" not in text
    with pytest.raises(lrspec.ResolveError, match="the top-level optimizer gives it w \\(shape unknown\\)"):
        lrspec.resolve(lrspec.validate({"version": 1, "optimizer": {"type": "muon"}}), ["w"])
    ok = spec(groups=[{"name": "mats", "params": ["*"], "ndim": 2, "optimizer": {"type": "muon"}}])
    plan = lrspec.resolve(ok, PARAMS)
    assert plan.group_of("fc.weight").family == "muon" and plan.group_of("conv.weight").family == "adamw"


# ------------------------------------------------------------------ serialisation


def test_plans_of_single_family_specs_serialise_and_fingerprint_as_before() -> None:
    s = spec(
        groups=[
            {"name": "bias", "params": ["*.bias"], "weight_decay": 0.0},
            {"name": "head", "params": ["head.*"], "lr_mult": 10.0},
        ],
        layer_decay={"rate": 0.5, "layers": ["embed.*", "blocks.{i}.*"]},
    )
    params = {
        "embed.weight": (4, 3),
        "blocks.0.w.weight": (3, 3),
        "blocks.0.w.bias": (3,),
        "blocks.1.w.weight": (3, 3),
        "head.weight": (2, 3),
        "head.bias": (2,),
    }
    plan = lrspec.resolve(s, params)
    assert all("family" not in g for g in plan.to_dict()["groups"])
    assert plan.fingerprint == "111cc02809f0f6b9"  # computed by lrspec before families per group existed


def test_mixed_plans_serialise_each_groups_family() -> None:
    s = spec(groups=[{"name": "m", "params": ["fc.weight"], "optimizer": {"type": "muon"}}])
    groups = lrspec.resolve(s, PARAMS).to_dict()["groups"]
    assert [g["family"] for g in groups] == ["muon", "adamw"]
    assert groups[0]["hyperparameters"]["ns_coefficients"] == [3.4445, -4.775, 2.0315]


def test_specs_with_group_families_round_trip_through_their_dumps() -> None:
    s = spec(
        groups=[{"name": "m", "params": ["*"], "ndim": 2, "optimizer": {"type": "muon", "ns_steps": 3}, "lr": 0.02}],
        layer_decay={"rate": 0.5, "layers": [["a", "b"], {"params": ["n"], "join": "previous"}], "unmatched": "last"},
    )
    dumped = s.model_dump()
    assert "lr" not in dumped["groups"][0]["optimizer"] and dumped["groups"][0]["lr"] == 0.02
    assert lrspec.validate(dumped) == s
    assert lrspec.Spec.model_validate_json(s.model_dump_json()) == s
