"""lrspec.importers.from_mmengine against mmengine itself: DefaultOptimWrapperConstructor and its
param schedulers, stepped as mmengine's ParamSchedulerHook steps them, on a backbone + neck +
head model with BatchNorm, GroupNorm, LayerNorm and a depthwise convolution."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
mmengine_optim = pytest.importorskip("mmengine.optim")

from _importers_harness import run_side_by_side  # noqa: E402
from mmengine.registry import PARAM_SCHEDULERS  # noqa: E402
from torch import nn  # noqa: E402

from lrspec.importers import RecipeError, import_mmengine  # noqa: E402

S = 3  # iterations per epoch


class Detector(nn.Module):
    """backbone (conv + BN, depthwise conv + BN), neck (1x1 conv + GroupNorm), head (LayerNorm + Linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8),
                                      nn.BatchNorm2d(8))
        self.neck = nn.Sequential(nn.Conv2d(8, 8, 1), nn.GroupNorm(2, 8))
        self.head = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 4))
        self.scale = nn.Parameter(torch.ones(1))


def model() -> nn.Module:
    torch.manual_seed(0)
    return Detector()


def mm_tool(cfg: dict):
    def build(m):
        ow = copy.deepcopy(cfg["optim_wrapper"])
        pw = ow.pop("paramwise_cfg", None)
        ow["type"] = "OptimWrapper"  # AmpOptimWrapper needs a GPU; the lrs are the same
        wrapper = mmengine_optim.DefaultOptimWrapperConstructor(ow, pw)(m)
        scheds = []
        for sc in copy.deepcopy(cfg.get("param_scheduler", [])):
            cls = PARAM_SCHEDULERS.get(sc.pop("type"))
            if sc.get("by_epoch", True) and sc.pop("convert_to_iter_based", False):
                scheds.append(cls.build_iter_from_epoch(wrapper.optimizer, **sc, epoch_length=S))
            else:
                scheds.append(cls(wrapper.optimizer, **sc))

        def after(k: int) -> None:  # ParamSchedulerHook: iter-based after each iteration, epoch-based after each epoch
            for s in scheds:
                if not s.by_epoch:
                    s.step()
            if (k + 1) % S == 0:
                for s in scheds:
                    if s.by_epoch:
                        s.step()

        return wrapper.optimizer, after

    return build


WARMUP = {"type": "LinearLR", "start_factor": 0.1, "by_epoch": False, "begin": 0, "end": 4}
CASES = {
    "sgd_paramwise_warmup_multistep_epochs": {
        "optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-4},
                          "paramwise_cfg": {"bias_lr_mult": 2.0, "bias_decay_mult": 0.0, "norm_decay_mult": 0.0,
                                            "dwconv_decay_mult": 0.5, "flat_decay_mult": 0.3}},
        "param_scheduler": [WARMUP, {"type": "MultiStepLR", "by_epoch": True, "begin": 0, "end": 6,
                                     "milestones": [3, 5], "gamma": 0.1}],
    },
    "adamw_custom_keys_cosine_iters": {
        "optim_wrapper": {"type": "AmpOptimWrapper",
                          "optimizer": {"type": "AdamW", "lr": 1e-3, "weight_decay": 0.05, "betas": [0.9, 0.98]},
                          "paramwise_cfg": {"norm_decay_mult": 0.0, "bias_lr_mult": 3.0, "custom_keys": {
                              "backbone": {"lr_mult": 0.1}, "backbone.1": {"decay_mult": 0.5},
                              "head.1": {"lr_mult": 5.0, "decay_mult": 0.0}, "scale": {"decay_mult": 0.0}}}},
        "param_scheduler": [WARMUP, {"type": "CosineAnnealingLR", "by_epoch": False, "begin": 4, "end": 14,
                                     "eta_min_ratio": 0.01}],
    },
    "sgd_cosine_absolute_eta_min_epochs_converted": {
        "optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1, "weight_decay": 1e-4},
                          "paramwise_cfg": {"custom_keys": {"head": {"lr_mult": 0.5}, "neck": {"lr_mult": 0.2}}}},
        "param_scheduler": [{"type": "LinearLR", "start_factor": 0.25, "by_epoch": True, "begin": 0, "end": 2,
                             "convert_to_iter_based": True},
                            {"type": "CosineAnnealingLR", "by_epoch": True, "begin": 2, "end": 5, "eta_min": 1e-3,
                             "convert_to_iter_based": True}],
    },
    "adam_poly_epochs": {
        "optim_wrapper": {"optimizer": {"type": "Adam", "lr": 1e-3}},
        "param_scheduler": [{"type": "PolyLR", "power": 2.0, "eta_min": 1e-5, "by_epoch": True, "begin": 0, "end": 4}],
    },
    "adam_constant_then_step": {
        "optim_wrapper": {"optimizer": {"type": "Adam", "lr": 1e-3, "weight_decay": 1e-2},
                          "paramwise_cfg": {"flat_decay_mult": 0.0}},
        "param_scheduler": [{"type": "ConstantLR", "factor": 0.5, "by_epoch": False, "begin": 0, "end": 3},
                            {"type": "StepLR", "step_size": 2, "gamma": 0.5, "by_epoch": False, "begin": 3}],
    },
    "sgd_frozen_by_lr_mult_0": {
        "optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
                          "paramwise_cfg": {"custom_keys": {"backbone": {"lr_mult": 0.0}, "backbone.3": {}}}},
        "param_scheduler": [{"type": "StepLR", "step_size": 4, "gamma": 0.5, "by_epoch": False}],
    },
    "rmsprop_exponential_then_step": {
        "optim_wrapper": {"optimizer": {"type": "RMSprop", "lr": 1e-2, "alpha": 0.9}},
        "param_scheduler": [{"type": "ExponentialLR", "gamma": 0.9, "by_epoch": False, "begin": 0, "end": 5}],
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mmengine_lrs_and_training_match(case: str) -> None:
    cfg = CASES[case]
    m = model()
    imported = import_mmengine(cfg, m, iters_per_epoch=S)
    run_side_by_side(m, mm_tool(cfg), imported.spec, steps=18)


def test_mmengine_groups_name_their_source_keys() -> None:
    imported = import_mmengine(CASES["adamw_custom_keys_cosine_iters"], model(), iters_per_epoch=S)
    names = [g.name for g in imported.spec.groups]
    assert names[:2] == ["bias_lr_mult", "norm_bias_lr"] and "norm_decay_mult" in names
    assert "custom_keys['backbone.1']" in imported.sources["custom_1"] or any(
        "backbone.1" in imported.sources[n] for n in names if n.startswith("custom"))
    assert not imported.warnings


@pytest.mark.parametrize(
    ("cfg", "key"),
    [({"optim_wrapper": {"optimizer": {"type": "LARS", "lr": 0.1}}}, "optim_wrapper.optimizer.type"),
     ({"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}, "accumulative_counts": 2}},
      "optim_wrapper.accumulative_counts"),
     ({"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}},
       "param_scheduler": [{"type": "ReduceOnPlateauLR", "by_epoch": False}]}, "param_scheduler[0].type"),
     ({"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}},
       "param_scheduler": [{"type": "LinearLR", "by_epoch": False, "begin": 0, "end": 10},
                           {"type": "CosineAnnealingLR", "by_epoch": False, "begin": 5, "end": 20}]},
      "param_scheduler[1]"),
     ({"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}, "paramwise_cfg": {"norm_decay_mult": 0.0}}},
      "optim_wrapper.paramwise_cfg.norm_decay_mult")],
)
def test_mmengine_inexact_configs_are_refused_naming_the_key(cfg: dict, key: str) -> None:
    with pytest.raises(RecipeError) as info:
        import_mmengine(cfg, model(), iters_per_epoch=S)
    assert info.value.problems[0].location == key


def test_a_rule_the_selectors_miss_gets_explicit_names_and_a_warning() -> None:
    """mmengine matches custom keys in '.name' for top-level parameters; '*.scale*' does not match
    'scale', so the importer adds the parameter by name and says so."""
    cfg = {"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-2},
                             "paramwise_cfg": {"custom_keys": {".scale": {"decay_mult": 0.0}}}}}
    m = model()
    imported = import_mmengine(cfg, m)
    assert imported.spec.groups[-1].name == "exact_0" and imported.spec.groups[-1].params == ["scale"]
    assert len(imported.warnings) == 1 and "explicit names" in imported.warnings[0]
    with pytest.warns(UserWarning, match="explicit names"):
        from lrspec.importers import from_mmengine

        from_mmengine(cfg, model())
    run_side_by_side(m, mm_tool(cfg), imported.spec, steps=6)
