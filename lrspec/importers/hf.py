"""``lrspec import hf TRAINING_ARGS.json``: HF ``TrainingArguments`` fields, as ``Trainer`` uses them.

Semantics followed (transformers 5.x: ``Trainer.create_optimizer``,
``Trainer.get_decay_parameter_names``, ``trainer_optimizer.py``, ``optimization.get_scheduler``,
``TrainingArguments.get_warmup_steps``; missing keys take ``TrainingArguments``' defaults):

* two groups: ``weight_decay`` for the decay parameters, 0 for the others; a parameter gets no
  decay when its owning module is a ``torch.nn.LayerNorm`` or its lower-cased name matches one
  of ``bias``, ``layernorm``, ``rmsnorm``, ``(?:^|\\.)norm(?:$|\\.)``, ``_norm(?:$|\\.)``;
* ``optim``: ``adamw_torch``/``adamw_torch_fused`` (torch AdamW with ``adam_beta1``,
  ``adam_beta2``, ``adam_epsilon``), ``sgd``, ``adagrad``, ``rmsprop`` (torch's classes,
  ``optim_args`` as Trainer parses them); every other optimizer is refused;
* the schedule, a LambdaLR stepped after every update (update t uses lambda(t)), over
  ``max_steps`` updates, or ``ceil(num_train_epochs * steps_per_epoch)``; warmup
  ``warmup_steps`` (an integer >= 1, or a fraction < 1 of the training steps, rounded up):
  ``linear``, ``cosine`` (half a cycle), ``cosine_with_min_lr``, ``polynomial``,
  ``constant`` (no warmup, as in transformers) and ``constant_with_warmup``. Equal over the
  training run (HF's cosine rises again after ``max_steps``; lrspec's holds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
from lrspec.spec.models import Spec

__all__ = ["NO_DECAY_NAME_PATTERNS", "TRAINING_DEFAULTS", "from_hf", "import_hf"]

#: transformers 5.x ``TrainingArguments`` defaults of the fields the import reads.
TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-5, "weight_decay": 0.0, "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8,
    "lr_scheduler_type": "linear", "lr_scheduler_kwargs": None, "warmup_steps": 0, "max_steps": -1,
    "num_train_epochs": 3.0, "optim": "adamw_torch_fused", "optim_args": None, "gradient_accumulation_steps": 1,
    "max_grad_norm": 1.0,
}

#: ``Trainer.get_decay_parameter_names``' name patterns (searched in the lower-cased name).
NO_DECAY_NAME_PATTERNS = (r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)")
#: The same rule as whole-name RE2 patterns (case-insensitive), as written in the spec.
_NO_DECAY_SPEC = ("re:(?i).*bias.*", "re:(?i).*layernorm.*", "re:(?i).*rmsnorm.*", r"re:(?i)(?:.*\.)?norm(?:\..*)?",
                  r"re:(?i).*_norm(?:\..*)?")



def _args(args: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(args, Mapping):
        raise RecipeError("", f"TrainingArguments must be a mapping (the JSON of TrainingArguments), got {type(args).__name__}")
    a = dict(TRAINING_DEFAULTS)
    a.update(args)
    if a.get("warmup_ratio"):
        raise RecipeError("warmup_ratio", "is not a field of transformers 5 (which lrspec follows): write the ratio as "
                          "warmup_steps < 1")
    if a.get("optim_target_modules"):
        raise RecipeError("optim_target_modules", "low-rank optimizers (GaLore, APOLLO) are not lrspec optimizers")
    return a


def _optim_args(a: dict[str, Any]) -> dict[str, str]:
    text = a["optim_args"]
    if not text:
        return {}
    out = {}
    for mapping in str(text).replace(" ", "").split(","):
        key, _, value = mapping.partition("=")
        out[key] = value
    return out


def _optimizer(a: dict[str, Any], lr: float, wd: float) -> dict[str, Any]:
    name = str(a["optim"])
    oa = _optim_args(a)

    def flt(keys: tuple[str, ...]) -> dict[str, Any]:
        return {k: float(oa[k]) for k in keys if k in oa}

    def flag(key: str) -> dict[str, Any]:
        return {key: oa[key].lower() in ("true", "1", "yes")} if key in oa else {}

    if name in ("adamw_torch", "adamw_torch_fused"):
        betas = (float(oa.get("beta1", a["adam_beta1"])), float(oa.get("beta2", a["adam_beta2"])))
        extra = set(oa) - {"beta1", "beta2"}
        if extra:
            raise RecipeError("optim_args", f"{', '.join(sorted(extra))}: not read by {name}")
        return optimizer_node("adamw", lr, wd, "optim", betas=betas, eps=float(a["adam_epsilon"]))
    if name == "sgd":
        kw = flt(("momentum", "dampening"))
        kw.update(flag("nesterov"))
        return optimizer_node("sgd", lr, wd, "optim", **kw)
    if name == "adagrad":
        return optimizer_node("adagrad", lr, wd, "optim", **flt(("lr_decay", "eps")))
    if name == "rmsprop":
        kw = flt(("momentum", "alpha", "eps"))
        kw.update(flag("centered"))
        return optimizer_node("rmsprop", lr, wd, "optim", **kw)
    raise RecipeError("optim", f"{name!r} is not a torch.optim class lrspec defines (importable: adamw_torch, "
                      "adamw_torch_fused, sgd, adagrad, rmsprop)")


def _schedule(a: dict[str, Any], lr: float, steps_per_epoch: int | None) -> tuple[dict[str, Any], int, int]:
    """(schedule node, training steps N, warmup steps W)."""
    if int(a["max_steps"]) > 0:
        total = int(a["max_steps"])
    elif steps_per_epoch:
        total = math.ceil(float(a["num_train_epochs"]) * steps_per_epoch)
    else:
        raise RecipeError("num_train_epochs", "max_steps is not set: give --steps-per-epoch (optimizer updates per "
                          "epoch) so that the number of training steps is known")
    ws = a["warmup_steps"]
    warm = int(ws) if ws >= 1 else math.ceil(total * ws)
    kind = str(a["lr_scheduler_type"])
    kw = dict(a["lr_scheduler_kwargs"] or {})
    key = "lr_scheduler_type"
    if kind == "constant":
        return {"type": "constant"}, total, 0
    decay = total - warm
    if kind != "constant_with_warmup" and decay <= 0:
        raise RecipeError("warmup_steps", f"{warm} warmup steps leave no decay steps of the {total} training steps")
    if kind == "constant_with_warmup":
        then: dict[str, Any] = {"type": "constant"}
    elif kind == "linear":
        then = {"type": "linear", "start_mult": 1.0, "end_mult": 0.0, "steps": decay}
    elif kind in ("cosine", "cosine_with_min_lr"):
        if float(kw.pop("num_cycles", 0.5)) != 0.5:
            raise RecipeError("lr_scheduler_kwargs.num_cycles", "only half a cosine cycle (0.5) is a lrspec cosine")
        rate = 0.0
        if kind == "cosine_with_min_lr":
            if kw.get("min_lr") is not None:
                rate = float(kw.pop("min_lr")) / lr
                kw.pop("min_lr_rate", None)
            elif kw.get("min_lr_rate") is not None:
                rate = float(kw.pop("min_lr_rate"))
            else:
                raise RecipeError("lr_scheduler_kwargs", "cosine_with_min_lr needs min_lr or min_lr_rate")
        then = {"type": "cosine", "decay_steps": decay, "min_mult": rate}
    elif kind == "polynomial":
        lr_end, power = float(kw.pop("lr_end", 1e-7)), float(kw.pop("power", 1.0))
        if not lr > lr_end:
            raise RecipeError("lr_scheduler_kwargs.lr_end", f"lr_end ({lr_end}) must be smaller than the lr ({lr})")
        then = {"type": "polynomial", "decay_steps": decay, "power": power, "end_mult": lr_end / lr}
    else:
        raise RecipeError(key, f"{kind!r}: cannot import exactly (lrspec imports linear, cosine, cosine_with_min_lr, "
                          "polynomial, constant, constant_with_warmup)")
    if kw:
        raise RecipeError("lr_scheduler_kwargs", f"{', '.join(sorted(kw))}: not read by {kind}")
    if warm == 0:
        return then, total, 0
    return {"type": "warmup", "steps": warm, "start_mult": 0.0, "then": then}, total, warm


def import_hf(args: Mapping[str, Any], model: Any, *, steps_per_epoch: int | None = None) -> Imported:
    """The spec that gives every parameter of ``model`` what HF's Trainer gives it for the
    TrainingArguments fields ``args``; ``steps_per_epoch``: optimizer updates per epoch (needed
    when ``max_steps`` is not set)."""
    import re

    a = _args(args)
    lr, wd = float(a["learning_rate"]), float(a["weight_decay"])
    params = model_params(model)
    sources: dict[str, str] = {"optimizer": f"optim: {a['optim']}, learning_rate, weight_decay, adam_*"}
    notes: list[str] = []
    data: dict[str, Any] = {"version": 1, "optimizer": _optimizer(a, lr, wd)}
    schedule, total, warm = _schedule(a, lr, steps_per_epoch)
    data["schedule"] = schedule
    sources["schedule"] = (f"lr_scheduler_type: {a['lr_scheduler_type']}, warmup_steps: {warm}, "
                           f"training steps: {total}")
    groups: list[dict[str, Any]] = []
    expected = Expected()
    if wd:
        needs_modules(params, "weight_decay")
        groups.append({"name": "no_decay_names", "params": list(_NO_DECAY_SPEC), "weight_decay": 0.0,
                       "optional": True})
        sources["no_decay_names"] = ("Trainer.get_decay_parameter_names: names matching "
                                     + ", ".join(NO_DECAY_NAME_PATTERNS) + " (lower-cased)")
        groups.append({"name": "no_decay_layernorm", "params": ["*"], "modules": ["class:LayerNorm"],
                       "weight_decay": 0.0, "optional": True})
        sources["no_decay_layernorm"] = "Trainer.get_decay_parameter_names: parameters of torch.nn.LayerNorm modules"
    rx = [re.compile(p) for p in NO_DECAY_NAME_PATTERNS]
    for p in params:
        if not p.trainable:
            continue
        decay = not p.is_a("LayerNorm") and not any(r.search(p.name.lower()) for r in rx)
        expected.lr[p.name] = lr
        expected.weight_decay[p.name] = wd if decay else 0.0
    data["groups"] = groups
    if float(a["max_grad_norm"] or 0) > 0:
        notes.append(f"max_grad_norm {a['max_grad_norm']}: Trainer clips gradients; clipping is not part of a spec "
                     "(clip in the training loop)")
    if int(a["gradient_accumulation_steps"]) != 1:
        notes.append("gradient_accumulation_steps > 1: --steps-per-epoch counts optimizer updates")
    warnings: list[str] = []
    data = check_exact(data, params, expected, sources, warnings)
    return Imported(Spec.model_validate(data), "hf", sources, tuple(warnings), tuple(notes))


def from_hf(args: Mapping[str, Any], model: Any, *, steps_per_epoch: int | None = None) -> Spec:
    """The spec of :func:`import_hf` (its warnings are issued as :class:`UserWarning`)."""
    imported = import_hf(args, model, steps_per_epoch=steps_per_epoch)
    warn_all(imported)
    return imported.spec
