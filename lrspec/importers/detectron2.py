"""``lrspec import detectron2 CONFIG.yaml``: the ``SOLVER`` node of a Detectron2 config.

Detectron2 is not installable here, so this follows its source, read at
facebookresearch/detectron2 ``detectron2/solver/build.py`` (``build_optimizer``,
``get_default_optimizer_params``, ``build_lr_scheduler``), ``solver/lr_scheduler.py``
(``WarmupParamScheduler``, ``LRMultiplier``), fvcore's ``common/param_scheduler.py`` and the
defaults of ``detectron2/config/defaults.py`` for missing keys:

* ``torch.optim.SGD(lr=BASE_LR, momentum=MOMENTUM, nesterov=NESTEROV, weight_decay=WEIGHT_DECAY)``;
  parameters of norm modules (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, ``GroupNorm``,
  ``InstanceNorm1d/2d/3d``, ``LayerNorm``, ``LocalResponseNorm`` and their subclasses) get
  ``WEIGHT_DECAY_NORM``; then parameters named ``bias`` get ``lr = BASE_LR * BIAS_LR_FACTOR``
  and ``WEIGHT_DECAY_BIAS`` (when not null), overriding the norm rule;
* the lr at update t is ``BASE_LR * multiplier(t / MAX_ITER)`` (``LRMultiplier``): a warmup
  (``WARMUP_METHOD`` linear/constant from ``WARMUP_FACTOR`` over ``WARMUP_ITERS``, fvcore's
  ``CompositeParamScheduler`` switching when ``where + 1e-6 > warmup_length``) then
  ``WarmupMultiStepLR`` (``GAMMA ** k`` after ``STEPS``), ``WarmupCosineLR`` (to
  ``BASE_LR_END``) or ``WarmupStepWithFixedGammaLR`` (``NUM_DECAYS``), evaluated at the global
  ``where`` (or rescaled with ``RESCALE_INTERVAL``). The importer evaluates that multiplier with
  fvcore's float operations at every update of the run and writes it exactly.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from typing import Any

from lrspec.importers._common import (
    Expected,
    Imported,
    RecipeError,
    check_exact,
    model_params,
    needs_modules,
    optimizer_node,
    warn_all,
)
from lrspec.importers._schedules import MAX_TABLE, Piece, hold, join, tabulate
from lrspec.spec.models import Spec

__all__ = ["NORM_CLASSES", "SOLVER_DEFAULTS", "from_detectron2", "import_detectron2"]

#: detectron2/config/defaults.py ``_C.SOLVER`` (the keys the import reads).
SOLVER_DEFAULTS: dict[str, Any] = {
    "LR_SCHEDULER_NAME": "WarmupMultiStepLR", "MAX_ITER": 40000, "BASE_LR": 0.001, "BASE_LR_END": 0.0,
    "MOMENTUM": 0.9, "NESTEROV": False, "WEIGHT_DECAY": 0.0001, "WEIGHT_DECAY_NORM": 0.0, "GAMMA": 0.1,
    "STEPS": [30000], "NUM_DECAYS": 3, "WARMUP_FACTOR": 1.0 / 1000, "WARMUP_ITERS": 1000, "WARMUP_METHOD": "linear",
    "RESCALE_INTERVAL": False, "BIAS_LR_FACTOR": 1.0, "WEIGHT_DECAY_BIAS": None, "REFERENCE_WORLD_SIZE": 0,
    "CLIP_GRADIENTS": {"ENABLED": False},
}
NORM_CLASSES = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "GroupNorm", "InstanceNorm1d",
                "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "LocalResponseNorm")
_EPS = 1e-6  # fvcore ParamScheduler.WHERE_EPSILON


def _solver(cfg: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(cfg, Mapping):
        raise RecipeError("", f"a detectron2 config must be a mapping, got {type(cfg).__name__}")
    solver = cfg.get("SOLVER", {})
    if not isinstance(solver, Mapping):
        raise RecipeError("SOLVER", "must be a mapping")
    s = dict(SOLVER_DEFAULTS)
    s.update(solver)
    if int(s["REFERENCE_WORLD_SIZE"] or 0) != 0:
        raise RecipeError("SOLVER.REFERENCE_WORLD_SIZE", "detectron2 rescales BASE_LR, MAX_ITER and STEPS by the "
                          "number of GPUs at run time; import the config it scaled (REFERENCE_WORLD_SIZE: 0)")
    return s


def _main(s: dict[str, Any]) -> tuple[Callable[[float], float], bool]:
    """(the main fvcore scheduler, whether it is piecewise constant)."""
    name, m = str(s["LR_SCHEDULER_NAME"]), int(s["MAX_ITER"])
    if name == "WarmupMultiStepLR":
        steps = [int(x) for x in s["STEPS"] if x <= m]
        values = [float(s["GAMMA"]) ** k for k in range(len(steps) + 1)]

        def multistep(where: float) -> float:
            return values[bisect.bisect_right(steps, int((where + _EPS) * m))]

        return multistep, True
    if name == "WarmupCosineLR":
        end = float(s["BASE_LR_END"]) / float(s["BASE_LR"])
        if not 0.0 <= end <= 1.0:
            raise RecipeError("SOLVER.BASE_LR_END", "must be between 0 and BASE_LR")
        return lambda where: end + 0.5 * (1 - end) * (1 + math.cos(math.pi * where)), False
    if name == "WarmupStepWithFixedGammaLR":
        vals = [1.0 * float(s["GAMMA"]) ** i for i in range(int(s["NUM_DECAYS"]) + 1)]
        return lambda where: vals[int((where + _EPS) * len(vals))], True
    raise RecipeError("SOLVER.LR_SCHEDULER_NAME", f"{name!r}: detectron2 knows WarmupMultiStepLR, WarmupCosineLR and "
                      "WarmupStepWithFixedGammaLR")


def _schedule(s: dict[str, Any]) -> dict[str, Any]:
    m = int(s["MAX_ITER"])
    if m <= 0:
        raise RecipeError("SOLVER.MAX_ITER", "must be positive")
    main, staircase = _main(s)
    w = min(int(s["WARMUP_ITERS"]) / m, 1.0)
    rescale = bool(s["RESCALE_INTERVAL"])
    factor, method = float(s["WARMUP_FACTOR"]), str(s["WARMUP_METHOD"])
    if method not in ("linear", "constant"):
        raise RecipeError("SOLVER.WARMUP_METHOD", f"{method!r}: detectron2 knows linear and constant")
    end_value = main(0.0) if rescale else main(w)
    start_value = factor * main(0.0)

    def main_at(where: float) -> float:
        return main((where - w) / (1 - w)) if rescale else main(where)

    # fvcore CompositeParamScheduler: the warmup holds while where + eps <= w
    switch = next((t for t in range(m + 1) if t / m + _EPS > w), m + 1)
    pieces: list[Piece] = []
    if switch > 0:
        if method == "constant":
            pieces.append(Piece(0, hold(start_value)))
        else:
            pieces.append(Piece(0, {"type": "linear", "start_mult": start_value, "end_mult": end_value,
                                    "steps": min(int(s["WARMUP_ITERS"]), m)}))  # x = where / w
    if switch <= m:
        values = [main_at(t / m) for t in range(switch, m + 1)]
        if staircase or len(values) <= MAX_TABLE:
            node = tabulate(values, 1, "SOLVER.LR_SCHEDULER_NAME")
            if staircase and node["type"] == "piecewise" and node["values"][0] == 1.0:
                gamma = node["values"][1]
                if all(v == gamma ** k for k, v in enumerate(node["values"])):
                    node = {"type": "multistep", "milestones": node["boundaries"], "gamma": gamma}
        elif switch == 0 and not rescale:
            node = {"type": "cosine", "decay_steps": m, "min_mult": float(s["BASE_LR_END"]) / float(s["BASE_LR"])}
        else:
            raise RecipeError("SOLVER.LR_SCHEDULER_NAME", f"cannot import exactly: after the warmup, WarmupCosineLR "
                              f"continues the cosine of the whole run, which lrspec can only write as a table of "
                              f"{len(values)} values (at most {MAX_TABLE}); set WARMUP_ITERS: 0 or RESCALE_INTERVAL")
        pieces.append(Piece(switch, node))
    return join(pieces)


def import_detectron2(cfg: Mapping[str, Any], model: Any) -> Imported:
    """The spec that gives every parameter of ``model`` what detectron2's build_optimizer and
    build_lr_scheduler give it for the config mapping ``cfg`` (its ``SOLVER`` node)."""
    s = _solver(cfg)
    lr, wd = float(s["BASE_LR"]), float(s["WEIGHT_DECAY"])
    node = optimizer_node("sgd", lr, wd, "SOLVER", momentum=float(s["MOMENTUM"]), nesterov=bool(s["NESTEROV"]))
    params = model_params(model)
    wdn, blf, wdb = s["WEIGHT_DECAY_NORM"], float(s["BIAS_LR_FACTOR"]), s["WEIGHT_DECAY_BIAS"]
    sources = {"optimizer": "SOLVER.BASE_LR, MOMENTUM, NESTEROV, WEIGHT_DECAY (torch.optim.SGD)",
               "schedule": f"SOLVER.LR_SCHEDULER_NAME: {s['LR_SCHEDULER_NAME']}, MAX_ITER, STEPS, GAMMA, WARMUP_*"}
    groups: list[dict[str, Any]] = []
    if wdn is not None:
        needs_modules(params, "SOLVER.WEIGHT_DECAY_NORM")
        groups.append({"name": "norm", "params": ["*"], "modules": [f"class:{c}" for c in NORM_CLASSES],
                       "weight_decay": float(wdn), "optional": True})
        sources["norm"] = "SOLVER.WEIGHT_DECAY_NORM (parameters of normalization modules)"
    bias: dict[str, Any] = {}
    if blf != 1.0:
        bias["lr_mult"] = blf
    if wdb is not None:
        bias["weight_decay"] = float(wdb)
    if bias:
        groups.append({"name": "bias", "params": ["bias", "*.bias"], **bias, "optional": True})
        sources["bias"] = "SOLVER.BIAS_LR_FACTOR / WEIGHT_DECAY_BIAS (parameters named bias)"
    expected = Expected()
    for p in params:
        if not p.trainable:
            continue
        p_lr, p_wd = lr, wd
        if wdn is not None and p.is_a(*NORM_CLASSES):
            p_wd = float(wdn)
        if p.leaf == "bias":
            if blf != 1.0:
                p_lr = lr * blf
            if wdb is not None:
                p_wd = float(wdb)
        expected.lr[p.name], expected.weight_decay[p.name] = p_lr, p_wd
    data: dict[str, Any] = {"version": 1, "optimizer": node, "schedule": _schedule(s), "groups": groups}
    notes = []
    clip = s["CLIP_GRADIENTS"]
    if isinstance(clip, Mapping) and clip.get("ENABLED"):
        notes.append("SOLVER.CLIP_GRADIENTS: gradient clipping is not part of a spec (clip in the training loop)")
    warnings: list[str] = []
    data = check_exact(data, params, expected, sources, warnings)
    return Imported(Spec.model_validate(data), "detectron2", sources, tuple(warnings), tuple(notes))


def from_detectron2(cfg: Mapping[str, Any], model: Any) -> Spec:
    """The spec of :func:`import_detectron2` (its warnings are issued as :class:`UserWarning`)."""
    imported = import_detectron2(cfg, model)
    warn_all(imported)
    return imported.spec
