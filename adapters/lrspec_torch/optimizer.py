"""Build a plain ``torch.optim`` optimizer from a Plan.

One param group per trainable plan group (permanently frozen groups are left out), in plan
order. Each group dict carries ``"name"`` (the plan group's name), ``"lr"`` (the lr of update
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
from lrspec_torch.names import TensorEntry

__all__ = ["FAMILY_CLASSES", "IMPLEMENTATION_KEYS", "build_optimizer", "choose_implementation", "group_settings"]

FAMILY_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

#: group keys that choose how torch computes the update, not what it computes
IMPLEMENTATION_KEYS = ("foreach", "fused", "capturable", "differentiable", "maximize")

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
    for g in plan.trainable_groups:
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


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(torch.as_tensor(a).eq(torch.as_tensor(b)).all())
    return bool(a == b)


def check_optimizer_state(optimizer: torch.optim.Optimizer, plan: Plan, state_dict: Any) -> dict[str, Any]:
    """Validate an optimizer ``state_dict`` against this compiled optimizer before torch loads it.

    Raises :class:`lrspec.CheckpointError` when the state's param groups are not this plan's
    (names, parameter counts, weight decay or family hyperparameters differ) or the state is
    malformed. Returns the state to load, with this optimizer's implementation flags
    (foreach/fused/...) kept: they choose how torch computes the update, not what it computes.
    """
    from lrspec.errors import CheckpointError

    if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"), list):
        raise CheckpointError("corrupt optimizer state: expected a dict with 'state' and 'param_groups'")
    if not isinstance(state_dict.get("state"), dict):
        raise CheckpointError("corrupt optimizer state: its 'state' entry is not a dict")
    saved = state_dict["param_groups"]
    if not all(isinstance(g, dict) for g in saved):
        raise CheckpointError("corrupt optimizer state: a param group is not a dict")
    saved_names = [g.get("name") for g in saved]
    ours = optimizer.param_groups
    our_names = [g["name"] for g in ours]
    if saved_names != our_names:
        hint = " (it was not saved from an lrspec-compiled optimizer)" if any(n is None for n in saved_names) else ""
        raise CheckpointError(
            f"optimizer state does not belong to this plan: its param groups are {saved_names}, "
            f"this optimizer's are {our_names}{hint}"
        )
    groups: list[dict[str, Any]] = []
    for sg, og in zip(saved, ours):
        params = sg.get("params")
        if not isinstance(params, list) or len(params) != len(og["params"]):
            n = len(params) if isinstance(params, list) else params
            raise CheckpointError(
                f"optimizer state does not belong to this plan: group {og['name']!r} has {n} parameters "
                f"in the state and {len(og['params'])} here"
            )
        for key, value in og.items():
            if key in ("params", "lr", "initial_lr", "name", *IMPLEMENTATION_KEYS) or key not in sg:
                continue
            if key in ("weight_decay", *type(plan.optimizer).model_fields) and not _same(sg[key], value):
                raise CheckpointError(
                    f"optimizer state does not belong to this plan: group {og['name']!r} was saved with "
                    f"{key}={sg[key]!r}, the plan says {value!r}"
                )
        fixed = dict(sg)
        for key in IMPLEMENTATION_KEYS:
            if key in og:
                fixed[key] = og[key]
        groups.append(fixed)
    return {**state_dict, "param_groups": groups}


def install_state_check(optimizer: torch.optim.Optimizer, plan: Plan) -> None:
    """Make ``optimizer.load_state_dict`` run :func:`check_optimizer_state` first."""

    def hook(opt: torch.optim.Optimizer, state_dict: Any) -> dict[str, Any]:
        return check_optimizer_state(opt, plan, state_dict)

    optimizer.register_load_state_dict_pre_hook(hook)
