"""Resolution: the cascade, layer decay, freezes, merging, unmatched handling, errors."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

import lrspec
from lrspec import ResolveError, Spec, resolve

MNIST = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def spec_of(groups: list[dict[str, Any]], **extra: Any) -> Spec:
    data: dict[str, Any] = {"version": 1, "optimizer": extra.pop("optimizer", {"type": "sgd", "lr": 0.1})}
    data["groups"] = groups
    data.update(extra)
    return Spec.model_validate(data)


# ------------------------------------------------------------------ cascade


def test_last_matching_group_that_sets_lr_wins() -> None:
    spec = spec_of(
        [
            {"name": "all", "params": ["*"], "lr": 0.5},
            {"name": "convs", "params": ["conv*"], "lr": 0.01},
            {"name": "no_lr", "params": ["conv1.*"], "weight_decay": 0.3},  # does not set lr
        ]
    )
    plan = resolve(spec, MNIST)
    assert plan.lr("conv1.weight", 0) == 0.01
    assert plan.lr("conv2.bias", 0) == 0.01
    assert plan.lr("fc1.weight", 0) == 0.5
    assert plan.group_of("conv1.weight").weight_decay == 0.3
    assert plan.group_of("conv2.weight").weight_decay == 0.0  # optimizer default for sgd
    assert plan.param("conv1.weight").matched == ("all", "convs", "no_lr")


def test_lr_and_lr_mult_set_the_same_setting() -> None:
    spec = spec_of(
        [
            {"name": "abs", "params": ["*"], "lr": 0.5},
            {"name": "mult", "params": ["fc*"], "lr_mult": 0.1},  # relative to optimizer.lr, not to 0.5
            {"name": "abs_again", "params": ["fc2.*"], "lr": 0.7},
        ]
    )
    plan = resolve(spec, MNIST)
    assert plan.lr("conv1.weight", 0) == 0.5
    assert plan.lr("fc1.weight", 0) == pytest.approx(0.1 * 0.1)
    assert plan.lr("fc2.weight", 0) == 0.7


def test_weight_decay_and_decay_mult_set_the_same_setting() -> None:
    spec = spec_of(
        [
            {"name": "mult", "params": ["*"], "decay_mult": 2.0},
            {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
            {"name": "back", "params": ["fc2.bias"], "decay_mult": 0.5},
        ],
        optimizer={"type": "adamw", "lr": 1e-3},
    )
    plan = resolve(spec, MNIST)
    # adamw's default weight decay is torch's 0.01
    assert plan.group_of("conv1.weight").weight_decay == pytest.approx(0.02)
    assert plan.group_of("conv1.bias").weight_decay == 0.0
    assert plan.group_of("fc2.bias").weight_decay == pytest.approx(0.005)
    assert plan.decoupled_weight_decay is True


def test_later_freeze_false_unfreezes_a_subset() -> None:
    spec = spec_of([{"name": "frozen", "params": ["*"], "freeze": True}, {"name": "head", "params": ["fc2.*"], "freeze": False}])
    plan = resolve(spec, MNIST)
    assert set(plan.frozen_params) == set(MNIST) - {"fc2.weight", "fc2.bias"}
    assert plan.lr("fc2.weight", 0) == 0.1
    assert plan.lr("conv1.weight", 0) == 0.0
    frozen = plan.group_of("conv1.weight")
    assert frozen.frozen and frozen.lr == 0.0 and frozen.weight_decay == 0.0
    assert plan.trainable_groups == (plan.group_of("fc2.weight"),)


def test_schedule_override_per_group() -> None:
    spec = spec_of(
        [{"name": "head", "params": ["fc*"], "schedule": {"type": "step", "step_size": 10, "gamma": 0.5}}],
        schedule={"type": "exponential", "decay_rate": 0.9, "decay_steps": 1},
    )
    plan = resolve(spec, MNIST)
    for t in (0, 5, 10, 25):
        assert plan.lr("fc1.weight", t) == pytest.approx(0.1 * 0.5 ** (t // 10))
        assert plan.lr("conv1.weight", t) == pytest.approx(0.1 * 0.9**t)


def test_family_hyperparameter_override() -> None:
    spec = spec_of(
        [{"name": "head", "params": ["fc*"], "momentum": 0.5}, {"name": "last", "params": ["fc2.*"], "nesterov": True}],
        optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9},
    )
    plan = resolve(spec, MNIST)
    assert plan.group_of("conv1.weight").hyperparameters == {"momentum": 0.9, "dampening": 0.0, "nesterov": False}
    assert plan.group_of("fc1.weight").hyperparameters == {"momentum": 0.5, "dampening": 0.0, "nesterov": False}
    assert plan.group_of("fc2.weight").hyperparameters == {"momentum": 0.5, "dampening": 0.0, "nesterov": True}


def test_defaults_per_family_are_torchs() -> None:
    expect = {
        "sgd": (1e-3, 0.0, {"momentum": 0.0, "dampening": 0.0, "nesterov": False}),
        "adam": (1e-3, 0.0, {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}),
        "adamw": (1e-3, 1e-2, {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}),
        "rmsprop": (1e-2, 0.0, {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False}),
        "adagrad": (1e-2, 0.0, {"lr_decay": 0.0, "eps": 1e-10, "initial_accumulator_value": 0.0}),
    }
    for family, (lr, wd, hyper) in expect.items():
        plan = resolve(Spec.model_validate({"version": 1, "optimizer": {"type": family}}), ["w"])
        (group,) = plan.groups
        assert (group.lr, group.weight_decay, dict(group.hyperparameters)) == (lr, wd, hyper), family
        assert plan.family == family


def test_nesterov_without_momentum_after_the_cascade_is_a_resolve_error() -> None:
    spec = spec_of([{"name": "n", "params": ["fc*"], "nesterov": True}], optimizer={"type": "sgd", "lr": 0.1})
    with pytest.raises(ResolveError, match=r"nesterov needs momentum > 0.*\['n'\]"):
        resolve(spec, MNIST)


# ------------------------------------------------------------------ layer decay

VIT = ["embed.weight", "blocks.0.w", "blocks.0.b", "blocks.1.w", "blocks.2.w", "blocks.10.w", "head.weight", "norm.weight"]


def test_layer_decay_expands_i_and_scales_by_depth() -> None:
    spec = spec_of([], layer_decay={"rate": 0.5, "layers": ["embed.*", "blocks.{i}.*", "head.*"]})
    plan = resolve(spec, VIT)
    # layers: embed, blocks.0, blocks.1, blocks.2, blocks.10, head -> D = 6
    assert plan.layer_names == ("embed.*", "blocks.0.*", "blocks.1.*", "blocks.2.*", "blocks.10.*", "head.*")
    depth = {"embed.weight": 0, "blocks.0.w": 1, "blocks.0.b": 1, "blocks.1.w": 2, "blocks.2.w": 3, "blocks.10.w": 4, "head.weight": 5}
    for name, d in depth.items():
        assert plan.param(name).layer == d
        assert plan.lr(name, 0) == pytest.approx(0.1 * 0.5 ** (6 - 1 - d)), name
    # a parameter matching no layer pattern keeps factor 1
    assert plan.param("norm.weight").layer is None
    assert plan.lr("norm.weight", 0) == 0.1
    assert plan.group_of("blocks.0.w") is plan.group_of("blocks.0.b")
    assert plan.group_of("blocks.0.w").layer == 1


def test_layer_decay_first_matching_pattern_decides() -> None:
    spec = spec_of([], layer_decay={"rate": 0.5, "layers": ["blocks.0.*", "blocks.{i}.*", "head.*"]})
    plan = resolve(spec, ["blocks.0.w", "blocks.1.w", "blocks.2.w", "head.weight"])
    # blocks.0.* decides blocks.0.w; blocks.{i}.* then only expands to 1 and 2 -> D = 4
    assert plan.layer_names == ("blocks.0.*", "blocks.1.*", "blocks.2.*", "head.*")
    assert [plan.param(n).layer for n in ("blocks.0.w", "blocks.1.w", "blocks.2.w", "head.weight")] == [0, 1, 2, 3]
    assert plan.lr("blocks.0.w", 0) == pytest.approx(0.1 * 0.125)


def test_layer_decay_multiplies_the_cascade_lr() -> None:
    spec = spec_of(
        [{"name": "head", "params": ["head.*"], "lr": 0.3}, {"name": "emb", "params": ["embed.*"], "lr_mult": 2.0}],
        layer_decay={"rate": 0.5, "layers": ["embed.*", "blocks.{i}.*", "head.*"]},
    )
    plan = resolve(spec, ["embed.weight", "blocks.0.w", "head.weight"])
    assert plan.lr("head.weight", 0) == pytest.approx(0.3)
    assert plan.lr("blocks.0.w", 0) == pytest.approx(0.1 * 0.5)
    assert plan.lr("embed.weight", 0) == pytest.approx(0.2 * 0.25)


def test_layer_decay_match_is_not_a_group_match_for_unmatched() -> None:
    spec = spec_of(
        [{"name": "head", "params": ["head.*"]}],
        layer_decay={"rate": 0.5, "layers": ["blocks.{i}.*", "head.*"]},
        unmatched="error",
    )
    with pytest.raises(ResolveError, match=r"1 parameter\(s\) match no group: blocks\.0\.w"):
        resolve(spec, ["blocks.0.w", "head.weight"])
    frozen = spec_of(
        [{"name": "head", "params": ["head.*"]}],
        layer_decay={"rate": 0.5, "layers": ["blocks.{i}.*", "head.*"]},
        unmatched="freeze",
    )
    plan = resolve(frozen, ["blocks.0.w", "head.weight"])
    assert plan.frozen_params == ("blocks.0.w",)
    assert plan.param("blocks.0.w").matched == ()


def test_layer_pattern_matching_nothing_is_an_error() -> None:
    spec = spec_of([], layer_decay={"rate": 0.5, "layers": ["embed.*", "blocks.{i}.*"]})
    with pytest.raises(ResolveError, match=r"layer_decay\.layers\[0\]: pattern 'embed\.\*' matches no parameter"):
        resolve(spec, ["blocks.0.w"])


# ------------------------------------------------------------------ freeze until


def test_freeze_until_step() -> None:
    spec = spec_of(
        [{"name": "stem", "params": ["conv1.*"], "freeze": {"until_step": 5}}],
        schedule={"type": "exponential", "decay_rate": 0.5, "decay_steps": 1},
    )
    plan = resolve(spec, MNIST)
    g = plan.group_of("conv1.weight")
    assert (g.frozen, g.frozen_until) == (False, 5)
    assert [plan.lr("conv1.weight", t) for t in range(4)] == [0.0] * 4
    assert plan.lr("conv1.weight", 4) == 0.0  # t = 4 < 5 is the last frozen update
    assert plan.lr("conv1.weight", 5) == pytest.approx(0.1 * 0.5**5)  # the global clock, not restarted
    assert plan.lr("conv2.weight", 0) == 0.1
    assert g.is_frozen_at(4) and not g.is_frozen_at(5)
    assert g in plan.trainable_groups
    assert "conv1.weight" not in plan.frozen_params


def test_freeze_until_zero_is_not_frozen_and_later_rule_overrides() -> None:
    spec = spec_of(
        [
            {"name": "a", "params": ["*"], "freeze": {"until_step": 0}},
            {"name": "b", "params": ["fc*"], "freeze": {"until_step": 9}},
            {"name": "c", "params": ["fc2.*"], "freeze": True},
        ]
    )
    plan = resolve(spec, MNIST)
    assert plan.group_of("conv1.weight").frozen_until is None
    assert plan.group_of("fc1.weight").frozen_until == 9
    assert plan.group_of("fc2.weight").frozen is True


# ------------------------------------------------------------------ merging and order


def test_identical_settings_merge_into_one_group() -> None:
    spec = spec_of([{"name": "a", "params": ["conv1.*"], "lr": 0.2}, {"name": "b", "params": ["fc2.*"], "lr": 0.2}])
    plan = resolve(spec, MNIST)
    assert [g.params for g in plan.groups] == [
        ("conv1.weight", "conv1.bias", "fc2.weight", "fc2.bias"),
        ("conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"),
    ]
    assert plan.groups[0].sources == ("a", "b")
    assert plan.groups[1].sources == ()


def test_fifty_rules_three_distinct_settings_give_three_groups_in_first_appearance_order() -> None:
    names = [f"layer{k}.weight" for k in range(50)]
    lrs = [0.3, 0.1, 0.2]
    groups = [{"name": f"r{k}", "params": [f"layer{k}.*"], "lr": lrs[k % 3]} for k in range(50)]
    plan = resolve(spec_of(groups), names)
    assert len(plan.groups) == 3
    assert [g.lr for g in plan.groups] == [0.3, 0.1, 0.2]  # order of first appearance in params
    assert plan.groups[0].params == tuple(f"layer{k}.weight" for k in range(0, 50, 3))
    assert plan.groups[0].sources == tuple(f"r{k}" for k in range(0, 50, 3))
    names_rev = list(reversed(names))
    plan_rev = resolve(spec_of(groups), names_rev)
    assert plan_rev.groups[0].params[0] == "layer49.weight"  # 49 % 3 == 1 -> lr 0.1 appears first
    assert [g.lr for g in plan_rev.groups] == [0.1, 0.3, 0.2]  # layer49, layer48, layer47


def test_every_parameter_exactly_once() -> None:
    names = [f"blocks.{i}.{p}" for i in range(40) for p in ("attn.q.weight", "attn.q.bias", "mlp.weight", "norm.weight")]
    spec = spec_of(
        [
            {"name": "nd", "params": ["*.bias", "*norm*"], "weight_decay": 0.0},
            {"name": "attn", "params": ["re:blocks\\.[0-9]+\\.attn\\..*"], "lr_mult": 0.5},
            {"name": "late", "params": ["blocks.3?.*"], "freeze": {"until_step": 10}},
        ],
        layer_decay={"rate": 0.9, "layers": ["blocks.{i}.*"]},
    )
    plan = resolve(spec, names)
    listed = [n for g in plan.groups for n in g.params]
    assert sorted(listed) == sorted(names) and len(listed) == len(names)
    assert plan.names == tuple(names)
    for name in names:
        assert name in plan.group_of(name).params
    assert len({g.name for g in plan.groups}) == len(plan.groups)


def test_group_lookup_by_name() -> None:
    plan = resolve(spec_of([{"name": "head", "params": ["fc*"], "lr": 0.5}]), MNIST)
    g = plan.group_of("fc1.weight")
    assert plan.group(g.name) is g
    with pytest.raises(KeyError, match="no plan group"):
        plan.group("nope")
    with pytest.raises(KeyError, match="not a parameter"):
        plan.group_of("nope")


# ------------------------------------------------------------------ unmatched


def test_unmatched_train_uses_optimizer_defaults() -> None:
    plan = resolve(spec_of([{"name": "h", "params": ["fc*"], "lr": 0.5}]), MNIST)
    g = plan.group_of("conv1.weight")
    assert (g.lr, g.weight_decay, g.frozen, g.sources) == (0.1, 0.0, False, ())


def test_unmatched_freeze() -> None:
    plan = resolve(spec_of([{"name": "h", "params": ["fc*"]}], unmatched="freeze"), MNIST)
    assert set(plan.frozen_params) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"}


def test_unmatched_error_lists_the_names() -> None:
    with pytest.raises(ResolveError, match=r"4 parameter\(s\) match no group: conv1\.weight, conv1\.bias, conv2\.weight, conv2\.bias"):
        resolve(spec_of([{"name": "h", "params": ["fc*"]}], unmatched="error"), MNIST)
    with pytest.raises(ResolveError, match="the spec has no groups"):
        resolve(spec_of([], unmatched="error"), MNIST)


# ------------------------------------------------------------------ resolution errors


def test_pattern_matching_nothing_shows_the_actual_names() -> None:
    spec = spec_of([{"name": "head", "params": ["classifier.*"]}])
    with pytest.raises(ResolveError) as info:
        resolve(spec, MNIST)
    msg = str(info.value)
    assert "groups[0].params[0] (group 'head'): pattern 'classifier.*' matches no parameter" in msg
    assert "conv1.weight, conv1.bias" in msg and "fc2.bias" in msg
    assert "optional: true" in msg


def test_typo_gets_closest_names() -> None:
    with pytest.raises(ResolveError, match=r"closest names: fc1\.weight"):
        resolve(spec_of([{"name": "t", "params": ["fc1.wieght"]}]), MNIST)


def test_all_resolution_errors_are_reported_together() -> None:
    spec = spec_of([{"name": "a", "params": ["x.*"]}, {"name": "b", "params": ["y.*"]}], unmatched="error")
    with pytest.raises(ResolveError) as info:
        resolve(spec, MNIST)
    msg = str(info.value)
    assert msg.startswith("cannot resolve the spec:")
    assert "'x.*'" in msg and "'y.*'" in msg and "8 parameter(s) match no group" in msg


def test_optional_group_may_match_nothing() -> None:
    spec = spec_of([{"name": "maybe", "params": ["classifier.*"], "optional": True, "lr": 0.5}])
    plan = resolve(spec, MNIST)
    assert len(plan.groups) == 1 and plan.groups[0].lr == 0.1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("conv1.weight", "not a string"),
        (["a", "a"], "listed twice"),
        (["a", ""], "invalid parameter name ''"),
        (["a\nb"], "without newlines"),
        ([3], "invalid parameter name 3"),
        ({"a": "x"}, "invalid shape for 'a'"),
        ({"a": [-1]}, "negative dimension"),
        ([], "no parameters"),
    ],
)
def test_bad_params(params: Any, message: str) -> None:
    with pytest.raises(ResolveError, match=message):
        resolve(spec_of([]), params)


def test_resolve_needs_a_spec() -> None:
    with pytest.raises(TypeError, match=re.escape("lrspec.load")):
        resolve({"version": 1}, ["a"])  # type: ignore[arg-type]


# ------------------------------------------------------------------ patterns in resolution


def test_glob_star_crosses_dots_and_regex_is_a_full_match() -> None:
    spec = spec_of(
        [
            {"name": "bias", "params": ["*.bias"], "lr": 0.2},
            {"name": "rx", "params": ["re:conv[0-9]\\.weight"], "lr": 0.3},
            {"name": "partial", "params": ["re:fc"], "optional": True, "lr": 0.4},  # full match only: matches nothing
        ]
    )
    plan = resolve(spec, [*MNIST, "deep.a.b.bias"])
    assert plan.lr("deep.a.b.bias", 0) == 0.2
    assert plan.lr("conv2.weight", 0) == 0.3
    assert plan.lr("fc1.weight", 0) == 0.1


def test_shapes_are_kept() -> None:
    plan = resolve(spec_of([]), {"a": [2, 3], "b": None, "c": ()})
    assert plan.param("a").shape == (2, 3)
    assert plan.param("b").shape is None
    assert plan.param("c").shape == ()


# ------------------------------------------------------------------ serialisation


def full_spec() -> Spec:
    return spec_of(
        [
            {"name": "nd", "params": ["*.bias"], "weight_decay": 0.0},
            {"name": "stem", "params": ["conv1.*"], "freeze": {"until_step": 3}},
            {"name": "frozen", "params": ["conv2.*"], "freeze": True},
            {"name": "head", "params": ["fc2.*"], "schedule": {"type": "cosine", "decay_steps": 10}, "betas": [0.8, 0.9]},
        ],
        optimizer={"type": "adam", "lr": 1e-3, "weight_decay": 1e-4},
        layer_decay={"rate": 0.7, "layers": ["conv{i}.*", "fc{i}.*"]},
    )


def test_to_dict_is_json_serialisable_and_complete() -> None:
    plan = resolve(full_spec(), {n: [1] for n in MNIST})
    data = plan.to_dict()
    back = json.loads(json.dumps(data))
    assert back == data
    assert set(data) >= {"groups", "optimizer", "params", "layers"}
    listed = [n for g in data["groups"] for n in g["params"]]
    assert sorted(listed) == sorted(MNIST)
    head = next(g for g in data["groups"] if "fc2.weight" in g["params"])
    assert head["hyperparameters"]["betas"] == [0.8, 0.9]
    assert head["schedule"] == {"type": "cosine", "decay_steps": 10, "min_mult": 0.0}
    assert head["lr"] == pytest.approx(1e-3)  # fc2 is the last layer: factor 0.7 ** 0
    fc1 = data["params"]["fc1.weight"]
    assert fc1 == {"group": plan.group_of("fc1.weight").name, "matched": [], "layer": 2, "shape": [1]}
    assert data["layers"] == ["conv1.*", "conv2.*", "fc1.*", "fc2.*"]
    assert math.isclose(plan.lr("fc1.weight", 0), 1e-3 * 0.7)


def test_fingerprint_stable_and_sensitive() -> None:
    a = resolve(full_spec(), MNIST)
    b = resolve(full_spec(), MNIST)
    assert a.fingerprint == b.fingerprint
    assert isinstance(a.fingerprint, str) and len(a.fingerprint) == 16
    c = resolve(spec_of([{"name": "nd", "params": ["*.bias"], "weight_decay": 0.001}]), MNIST)
    d = resolve(spec_of([{"name": "nd", "params": ["*.bias"], "weight_decay": 0.002}]), MNIST)
    assert c.fingerprint != d.fingerprint
    e = resolve(full_spec(), list(reversed(MNIST)))
    assert e.fingerprint != a.fingerprint


def test_plan_is_immutable() -> None:
    plan = resolve(full_spec(), MNIST)
    with pytest.raises(AttributeError):
        plan.groups = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        plan.groups[0].lr = 1.0  # type: ignore[misc]


def test_api_exports() -> None:
    assert lrspec.resolve is resolve
    assert issubclass(ResolveError, ValueError)


def test_plan_groups_are_named_after_the_spec_groups_that_decide_a_setting() -> None:
    spec = Spec.model_validate(
        {
            "version": 1,
            "optimizer": {"type": "adam", "lr": 1e-3},  # weight_decay defaults to 0
            "groups": [
                {"name": "conv", "params": ["conv*"], "lr": 1e-5},
                {"name": "stem", "params": ["conv1.*"], "freeze": {"until_step": 100}},
                {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},  # same value as the default
                {"name": "head_a", "params": ["fc1.*"], "lr": 1e-2},
                {"name": "head_b", "params": ["fc2.*"], "lr": 1e-2},
            ],
        }
    )
    names = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "body.w", "body.bias"]
    plan = resolve(spec, names)
    # conv1.bias is decided by conv+stem+no_decay and merged with conv1.weight (conv+stem): the
    # minimal set names the group; body.w (nothing) and body.bias (no_decay, same value) -> default
    assert [g.name for g in plan.groups] == ["conv+stem", "conv", "head_a|head_b", "default"]
    assert plan.group_of("body.bias").name == "default"
    assert plan.group_of("fc2.weight").name == "head_a|head_b"
    assert plan.group_of("body.w").name == "default"
    # sources still record every spec group whose patterns matched
    assert plan.group("conv+stem").sources == ("conv", "stem", "no_decay")


# ------------------------------------------------------------------ layer-decay entries (issue 14)

TIMM_VIT = ["cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.w", "blocks.1.w", "blocks.10.w"]
TIMM_VIT += ["norm.weight", "head.weight"]


def _ld(layers: list[Any], **extra: Any) -> Spec:
    return spec_of([], optimizer={"type": "sgd", "lr": 1.0}, layer_decay={"rate": 0.5, "layers": layers, **extra})


def test_layer_entry_list_join_previous_and_unmatched_last() -> None:
    spec = _ld(
        [["cls_token", "pos_embed", "patch_embed.*"], "blocks.{i}.*", {"params": ["norm.*"], "join": "previous"}],
        unmatched="last",
    )
    plan = resolve(spec, TIMM_VIT)
    layer = {"cls_token": 0, "pos_embed": 0, "patch_embed.proj.weight": 0, "blocks.0.w": 1, "blocks.1.w": 2}
    layer |= {"blocks.10.w": 3, "norm.weight": 3, "head.weight": 4}
    for name, d in layer.items():
        assert plan.param(name).layer == d, name
        assert plan.lr(name, 0) == 0.5 ** (4 - d), name  # rate ** (D - 1 - d), D = 5
    assert plan.layer_names[-2:] == ("blocks.10.* + norm.*", "(unmatched)")


def test_layer_unmatched_none_keeps_factor_one() -> None:
    plan = resolve(_ld(["blocks.{i}.*", {"params": ["norm.*"], "join": "previous"}]), TIMM_VIT)
    assert plan.param("head.weight").layer is None and plan.lr("head.weight", 0) == 1.0
    assert plan.lr("norm.weight", 0) == plan.lr("blocks.10.w", 0) == 1.0
    assert plan.lr("blocks.0.w", 0) == 0.25


def test_layer_entry_patterns_must_match_unless_optional() -> None:
    with pytest.raises(ResolveError, match=r"layer_decay.layers\[0\]\[1\]: pattern 'reg_token' matches no parameter"):
        resolve(_ld([["cls_token", "reg_token"], "blocks.{i}.*"]), TIMM_VIT)
    with pytest.raises(ResolveError, match=r"layer_decay.layers\[1\].params\[0\]: pattern 'fc_norm.\*' matches no"):
        resolve(_ld(["blocks.{i}.*", {"params": ["fc_norm.*"], "join": "previous"}]), TIMM_VIT)
    plan = resolve(
        _ld(
            [
                {"params": ["cls_token", "reg_token"], "optional": True},
                "blocks.{i}.*",
                {"params": ["fc_norm.*"], "join": "previous", "optional": True},
            ]
        ),
        TIMM_VIT,
    )
    assert plan.layer_names == ("cls_token, reg_token", "blocks.0.*", "blocks.1.*", "blocks.10.*")


def test_join_previous_without_an_earlier_layer_is_an_error() -> None:
    spec = _ld([{"params": ["nothing*"], "optional": True}, {"params": ["norm.*"], "join": "previous"}])
    with pytest.raises(ResolveError, match=r"layers\[1\]: join: previous, but no earlier entry matched a parameter"):
        resolve(spec, TIMM_VIT)


@pytest.mark.parametrize(
    ("layers", "where", "fragment"),
    [
        ([{"params": ["a"], "join": "previous"}], "layer_decay.layers[0].join", "no previous layer to join"),
        (["a", ["b.{i}", "c"]], "layer_decay.layers[1][0]", "cannot share an entry"),
        (["a", {"params": ["b.{i}"], "join": "previous"}], "layer_decay.layers[1].params[0]", "cannot join a layer"),
        (["a", 3], "layer_decay.layers[1]", "a layer entry is a pattern, a list of patterns, or"),
        (["a", []], "layer_decay.layers[1]", "at least 1 item"),
        (["a", {"params": ["b"], "join": "next"}], "layer_decay.layers[1].join", "must be 'previous'"),
    ],
)
def test_bad_layer_entries_are_spec_errors(layers: list[Any], where: str, fragment: str) -> None:
    with pytest.raises(lrspec.SpecError) as info:
        _ld(layers)
    assert [p.location for p in info.value.problems] == [where] and fragment in str(info.value)
