"""lrspec.importers.from_timm against timm itself: create_optimizer_v2 + create_scheduler_v2,
stepped as timm's train.py steps them, on a ViT and a ConvNeXt."""

from __future__ import annotations

import types

import pytest

torch = pytest.importorskip("torch")

from _importers_harness import run_side_by_side, torchvision_for_timm  # noqa: E402

torchvision_for_timm()
timm = pytest.importorskip("timm")
from timm.optim import create_optimizer_v2, optimizer_kwargs  # noqa: E402
from timm.scheduler import create_scheduler_v2, scheduler_kwargs  # noqa: E402

from lrspec.importers import RecipeError, import_timm  # noqa: E402
from lrspec.importers.timm import TRAIN_DEFAULTS  # noqa: E402

S = 2  # optimizer updates per epoch


def vit() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=16, patch_size=8, num_classes=3,
                             depth=3, embed_dim=16, num_heads=2)


def convnext() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model("convnext_atto", pretrained=False, num_classes=3, depths=(1, 2, 1, 1),
                             dims=(8, 8, 16, 16))


def timm_tool(args: dict):
    ns = types.SimpleNamespace(**{**TRAIN_DEFAULTS, **args})

    def build(model):
        opt = create_optimizer_v2(model, **optimizer_kwargs(cfg=ns), **ns.opt_kwargs)
        sched, _ = create_scheduler_v2(opt, **scheduler_kwargs(ns), updates_per_epoch=S)

        def after(k: int) -> None:  # train.py: step_update after every update, step(epoch + 1) after each epoch
            if sched is None:
                return
            sched.step_update(num_updates=k + 1)
            if (k + 1) % S == 0:
                sched.step((k + 1) // S)

        return opt, after

    return build


CASES = {
    "vit_layer_decay_cosine": (vit, {"opt": "adamw", "lr": 1e-3, "weight_decay": 0.05, "layer_decay": 0.65,
                                     "epochs": 6, "warmup_epochs": 2, "min_lr": 1e-5, "warmup_lr": 1e-6}),
    "vit_sgd_step_on_updates": (vit, {"opt": "sgd", "lr": 0.1, "weight_decay": 1e-4, "sched": "step",
                                      "decay_epochs": 2, "decay_rate": 0.5, "epochs": 6, "warmup_epochs": 1,
                                      "sched_on_updates": True}),
    "vit_cosine_on_updates_prefix": (vit, {"opt": "adamw", "lr": 1e-3, "weight_decay": 0.05, "layer_decay": 0.7,
                                           "epochs": 4, "warmup_epochs": 1, "warmup_prefix": True, "min_lr": 1e-5,
                                           "sched_on_updates": True}),
    "convnext_multistep_on_updates": (convnext, {"opt": "momentum", "lr": 0.1, "sched": "multistep",
                                                 "decay_milestones": [1, 3], "epochs": 5, "warmup_epochs": 0,
                                                 "sched_on_updates": True}),
    "convnext_layer_decay_multistep": (convnext, {"opt": "adamw", "lr": 2e-3, "weight_decay": 0.05,
                                                  "layer_decay": 0.8, "sched": "multistep",
                                                  "decay_milestones": [2, 4], "epochs": 6, "warmup_epochs": 1}),
    "convnext_nesterov_poly_prefix": (convnext, {"opt": "nesterov", "lr": 0.05, "sched": "poly", "epochs": 4,
                                                 "warmup_epochs": 2, "warmup_prefix": True, "decay_rate": 2.0,
                                                 "min_lr": 1e-4, "cooldown_epochs": 1}),
    "vit_sched_none_ignores_layer_decay": (vit, {"opt": "adam", "lr": 1e-3, "sched": "none", "layer_decay": 0.5}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_timm_lrs_and_training_match(case: str) -> None:
    make, args = CASES[case]
    model = make()
    imported = import_timm(args, model, steps_per_epoch=S)
    run_side_by_side(model, timm_tool(args), imported.spec, steps=14)


def test_timm_vit_layer_entries_are_timms_rule() -> None:
    imported = import_timm(CASES["vit_layer_decay_cosine"][1], vit(), steps_per_epoch=S)
    ld = imported.spec.layer_decay
    assert ld is not None
    dumped = ld.model_dump(mode="json", exclude_unset=True)["layers"]
    assert dumped == [["cls_token", "pos_embed", "patch_embed.*"], "blocks.{i}.*",
                      {"params": ["norm.*"], "join": "previous"}, "head.*"]


def test_timm_per_update_schedules_are_lrspec_nodes() -> None:
    spec = import_timm(CASES["vit_cosine_on_updates_prefix"][1], vit(), steps_per_epoch=S).spec
    assert spec.schedule.model_dump() == {
        "type": "sequence", "boundaries": [S],
        "schedules": [{"type": "linear", "start_mult": 1e-5 / 1e-3, "end_mult": 1.0, "steps": S},  # warmup_lr: 1e-5
                      {"type": "cosine", "decay_steps": 4 * S, "min_mult": 1e-5 / 1e-3}]}


def test_timm_defaults_are_train_py_defaults() -> None:
    """Missing keys take train.py's argparse defaults: SGD (nesterov), wd 2e-5, cosine over 300 epochs,
    5 warmup epochs from 1e-5."""
    imported = import_timm({"lr": 0.1}, vit(), steps_per_epoch=1)
    spec = imported.spec
    assert spec.optimizer.type == "sgd" and spec.optimizer.nesterov and spec.optimizer.momentum == 0.9
    assert spec.optimizer.weight_decay == 2e-5
    sched = spec.schedule.model_dump()
    assert sched["values"][0] == pytest.approx(1e-5 / 0.1)
    assert len(sched["values"]) == 301


@pytest.mark.parametrize(
    ("args", "key"),
    [({"lr": None}, "lr"), ({"lr": 0.1, "opt": "lamb"}, "opt"), ({"lr": 0.1, "sched": "plateau"}, "sched"),
     ({"lr": 0.1, "sched": "nonsense"}, "sched"),
     ({"lr": 0.1, "lr_noise": [0.5]}, "lr_noise"), ({"lr": 0.1, "opt": "lookahead_adamw"}, "opt")],
)
def test_timm_inexact_recipes_are_refused_naming_the_key(args: dict, key: str) -> None:
    with pytest.raises(RecipeError) as info:
        import_timm(args, vit(), steps_per_epoch=S)
    assert info.value.problems[0].location == key
