"""Build a plain ``torch.optim`` optimizer from a Plan.

One param group per trainable plan group (permanently frozen groups are left out), ordered by
the update at which the group starts training (``frozen_until``, 0 for groups not frozen), ties in
plan order: group 0 is always a group that trains first, so a tool that logs
``scheduler.get_last_lr()[0]`` (HF Trainer) shows a real lr during a freeze. Each group dict carries ``"name"`` (the plan group's name), ``"lr"`` (the lr of update
``t = 0``: ``group.lr * m(0)``, or 0.0 while the group is frozen), ``"weight_decay"`` and the
family's hyperparameters under torch's names, so ``print(opt)`` and any torch tooling see the
real values. The :class:`~lrspec_torch.scheduler.PlanScheduler` keeps ``"lr"`` up to date.

Implementation choice (``foreach`` / ``fused``): passed through when given; otherwise lrspec
picks the fastest implementation torch offers for the parameters: ``fused=True`` where the
family has a fused kernel for every parameter's device and dtype (sgd, adam, adamw on any
fused device; adagrad on CPU), else ``foreach=True`` (rmsprop, and anything else), and the
plain for-loop for sparse embeddings. All of them implement torch's update rule; they differ
in float rounding only (measured and tested against :mod:`lrspec.reference`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lrspec.errors import TargetError
from lrspec.plan import Plan, PlanGroup
from lrspec_torch.checkpoint import IMPLEMENTATION_KEYS
from lrspec_torch.names import TensorEntry

__all__ = ["FAMILY_CLASSES", "IMPLEMENTATION_KEYS", "build_optimizer", "choose_implementation", "group_settings"]

# checked loading of optimizer states lives in lrspec_torch.checkpoint

FAMILY_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


_FUSED_FAMILIES = {"sgd", "adam", "adamw", "adagrad"}
_FUSED_CPU_ONLY = {"adagrad"}


def _fused_devices() -> list[str]:
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        return list(_get_fused_kernels_supported_devices())
    except ImportError:  # pragma: no cover - very old torch
        return ["cuda"]


def choose_implementation(
    family: str,
    params: Sequence[torch.Tensor],
    *,
    foreach: bool | None = None,
    fused: bool | None = None,
    sparse: bool = False,
) -> dict[str, bool | None]:
    """``{"foreach": ..., "fused": ...}`` for the torch constructor.

    Explicit values are validated and passed through; ``None`` for both lets lrspec choose
    (see the module docstring). ``sparse`` (the model has sparse-gradient embeddings) rules
    out fused and foreach.
    """
    if foreach and fused:
        raise TargetError("foreach=True and fused=True cannot be combined; pick one (or neither to let lrspec choose)")
    if fused and family not in _FUSED_FAMILIES:
        raise TargetError(f"torch has no fused {family} optimizer; use foreach=True or leave fused unset")
    if foreach is not None or fused is not None:
        return {"foreach": foreach, "fused": fused}
    if sparse:
        return {"foreach": False, "fused": False}
    devices = {p.device.type for p in params}
    fusable = (
        family in _FUSED_FAMILIES
        and all(p.is_floating_point() for p in params)
        and devices <= set(_fused_devices())
        and (family not in _FUSED_CPU_ONLY or devices <= {"cpu"})
    )
    if fusable:
        return {"foreach": None, "fused": True}
    return {"foreach": True, "fused": None}


def has_sparse_embeddings(model: Any) -> bool:
    """True when ``model`` has an ``nn.Embedding``/``nn.EmbeddingBag`` with ``sparse=True``."""
    if not isinstance(model, nn.Module):
        return False
    return any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse for m in model.modules())


def group_settings(group: PlanGroup) -> dict[str, Any]:
    """The torch param-group keys of a plan group, besides ``params`` and ``lr``."""
    out: dict[str, Any] = {"name": group.name, "weight_decay": group.weight_decay}
    for key, value in group.hyperparameters.items():
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def build_optimizer(
    plan: Plan,
    entries: Sequence[TensorEntry],
    *,
    implementation: dict[str, bool | None],
) -> torch.optim.Optimizer:
    """The torch optimizer of ``plan`` over the (deduplicated) tensors ``entries``.

    Tensors keep model order within each group; permanently frozen tensors are left out.
    """
    family = plan.family
    cls = FAMILY_CLASSES.get(family)
    if cls is None:  # pragma: no cover - the spec model only allows the five families
        raise TargetError(f"the torch target does not support optimizer family {family!r}")
    members: dict[str, list[torch.Tensor]] = {g.name: [] for g in plan.trainable_groups}
    for e in entries:
        if not e.group.frozen:
            members[e.group.name].append(e.tensor)
    param_groups: list[dict[str, Any]] = []
    # groups in the order they start training (ties in plan order), so group 0 trains from the
    # start whenever some group does: tools that log group 0's lr (HF Trainer) show a real lr
    for g in sorted(plan.trainable_groups, key=lambda g: g.frozen_until or 0):
        param_groups.append({"params": members[g.name], "lr": g.lr_at(0), **group_settings(g)})
    if not param_groups:
        raise TargetError(
            "every parameter is permanently frozen, so there is nothing to optimize "
            "(torch optimizers need at least one parameter)"
        )
    defaults: dict[str, Any] = {"lr": plan.optimizer.lr, "weight_decay": plan.optimizer.weight_decay}
    for key in param_groups[0]:
        if key not in ("params", "name", "lr", "weight_decay"):
            defaults[key] = getattr(plan.optimizer, key)
    defaults.update({k: v for k, v in implementation.items() if v is not None})
    try:
        opt = cls(param_groups, **defaults)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise TargetError(f"torch.optim.{cls.__name__} rejected the compiled groups: {exc}") from exc
    if family == "adagrad":
        # torch.optim.Adagrad fills every accumulator with the *constructor's*
        # initial_accumulator_value; apply each group's own value.
        for pg in opt.param_groups:
            init = float(pg["initial_accumulator_value"])
            if init != float(defaults["initial_accumulator_value"]):
                for p in pg["params"]:
                    opt.state[p]["sum"].fill_(complex(init, init) if p.is_complex() else init)
    return opt
