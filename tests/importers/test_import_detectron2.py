"""lrspec.importers.from_detectron2 against Detectron2's solver semantics, written here from its
source (detectron2 is not installable): detectron2/solver/build.py get_default_optimizer_params +
build_optimizer + build_lr_scheduler, with fvcore's param schedulers (facebookresearch/fvcore
fvcore/common/param_scheduler.py), driven by LambdaLR as LRMultiplier drives them."""

from __future__ import annotations

import bisect
import math

import pytest

torch = pytest.importorskip("torch")

from _importers_harness import run_side_by_side  # noqa: E402
from torch import nn  # noqa: E402

from lrspec.importers import RecipeError, import_detectron2  # noqa: E402
from lrspec.importers.detectron2 import SOLVER_DEFAULTS  # noqa: E402

EPS = 1e-6
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm, nn.InstanceNorm1d,
         nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm, nn.LocalResponseNorm)


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 1), nn.GroupNorm(2, 8),
                         nn.Flatten(), nn.LayerNorm(8), nn.Linear(8, 4))


def d2_tool(solver: dict):
    s = {**SOLVER_DEFAULTS, **solver}

    def build(m):
        # get_default_optimizer_params(model, base_lr, weight_decay_norm, bias_lr_factor, weight_decay_bias)
        overrides = {}
        bias = {}
        if s["BIAS_LR_FACTOR"] != 1.0:
            bias["lr"] = s["BASE_LR"] * s["BIAS_LR_FACTOR"]
        if s["WEIGHT_DECAY_BIAS"] is not None:
            bias["weight_decay"] = s["WEIGHT_DECAY_BIAS"]
        if bias:
            overrides["bias"] = bias
        groups = []
        for _, module in m.named_modules():
            for pname, value in module.named_parameters(recurse=False):
                hp = {"lr": s["BASE_LR"]}
                if isinstance(module, NORMS) and s["WEIGHT_DECAY_NORM"] is not None:
                    hp["weight_decay"] = s["WEIGHT_DECAY_NORM"]
                hp.update(overrides.get(pname, {}))
                groups.append({"params": [value], **hp})
        opt = torch.optim.SGD(groups, lr=s["BASE_LR"], momentum=s["MOMENTUM"], nesterov=s["NESTEROV"],
                              weight_decay=s["WEIGHT_DECAY"])
        M = s["MAX_ITER"]
        if s["LR_SCHEDULER_NAME"] == "WarmupMultiStepLR":
            steps = [x for x in s["STEPS"] if x <= M]
            values = [s["GAMMA"] ** k for k in range(len(steps) + 1)]

            def main(where):  # fvcore MultiStepParamScheduler
                return values[bisect.bisect_right(steps, int((where + EPS) * M))]
        else:
            end = s["BASE_LR_END"] / s["BASE_LR"]

            def main(where):  # fvcore CosineParamScheduler(1, end)
                return end + 0.5 * (1 - end) * (1 + math.cos(math.pi * where))
        w = min(s["WARMUP_ITERS"] / M, 1.0)
        start, stop = s["WARMUP_FACTOR"] * main(0.0), main(w)

        def multiplier(where):  # WarmupParamScheduler = CompositeParamScheduler([linear, main], rescaled/fixed)
            if where + EPS > w:
                return main(where)
            x = where / w
            return stop * x + start * (1 - x) if s["WARMUP_METHOD"] == "linear" else start

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: multiplier(t / M))  # LRMultiplier
        return opt, lambda k: sched.step()

    return build


CASES = {
    "multistep_warmup_norm_bias": {"BASE_LR": 0.02, "MAX_ITER": 20, "STEPS": [8, 12, 30], "WARMUP_ITERS": 4,
                                   "WEIGHT_DECAY_NORM": 0.0, "BIAS_LR_FACTOR": 2.0, "WEIGHT_DECAY_BIAS": 0.0,
                                   "NESTEROV": True},
    "cosine_constant_warmup": {"BASE_LR": 0.01, "MAX_ITER": 16, "LR_SCHEDULER_NAME": "WarmupCosineLR",
                               "BASE_LR_END": 1e-4, "WARMUP_ITERS": 3, "WARMUP_METHOD": "constant",
                               "WARMUP_FACTOR": 0.1, "WEIGHT_DECAY_NORM": None},
    "defaults_short": {"MAX_ITER": 12, "STEPS": [6], "WARMUP_ITERS": 2},
    "warmup_longer_than_the_run": {"MAX_ITER": 8, "STEPS": [4], "WARMUP_ITERS": 12, "WARMUP_FACTOR": 0.2},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_detectron2_lrs_and_training_match(case: str) -> None:
    m = model()
    imported = import_detectron2({"SOLVER": CASES[case]}, m)
    run_side_by_side(m, d2_tool(CASES[case]), imported.spec, steps=CASES[case]["MAX_ITER"] + 1)


def test_detectron2_multistep_is_written_as_multistep() -> None:
    spec = import_detectron2({"SOLVER": CASES["multistep_warmup_norm_bias"]}, model()).spec
    sched = spec.schedule.model_dump()
    assert sched["type"] == "sequence" and sched["boundaries"] == [4]
    assert sched["schedules"][1] == {"type": "multistep", "milestones": [4, 8], "gamma": 0.1}


@pytest.mark.parametrize(
    ("solver", "key"),
    [({"LR_SCHEDULER_NAME": "WarmupPolyLR"}, "SOLVER.LR_SCHEDULER_NAME"),
     ({"REFERENCE_WORLD_SIZE": 16}, "SOLVER.REFERENCE_WORLD_SIZE"),
     ({"LR_SCHEDULER_NAME": "WarmupCosineLR", "MAX_ITER": 90000}, "SOLVER.LR_SCHEDULER_NAME")],
)
def test_detectron2_inexact_configs_are_refused_naming_the_key(solver: dict, key: str) -> None:
    with pytest.raises(RecipeError) as info:
        import_detectron2({"SOLVER": solver}, model())
    assert info.value.problems[0].location == key
