"""Build the torch optimizer of a Plan: one stock ``torch.optim`` class per family.

One param group per trainable plan group (permanently frozen groups are left out), ordered by
the update at which the group starts training (``frozen_until``, 0 for groups not frozen), ties in
plan order: group 0 is always a group that trains first, so a tool that logs
``scheduler.get_last_lr()[0]`` (HF Trainer) shows a real lr during a freeze. Each group dict
carries ``"name"`` (the plan group's name), ``"lr"`` (the lr of update ``t = 0``:
``group.lr * m(0)``, or 0.0 while the group is frozen), ``"weight_decay"`` and the family's
hyperparameters under torch's names, so ``print(opt)`` and any torch tooling see the real values.
The :class:`~lrspec_torch.scheduler.PlanScheduler` keeps ``"lr"`` up to date.

One family (every plan whose groups share the spec's optimizer type): the optimizer is that
family's stock class (:data:`lrspec_torch.classes.FAMILY_CLASSES`) over all groups. Several
families (a spec group with its own ``optimizer``): one stock optimizer per family (families in
the order their first group appears) wrapped in one
:class:`~lrspec_torch.hybrid.HybridOptimizer`, whose ``param_groups`` are the same dicts in
the order above, each with a ``"family"`` key. Muon with ``newton_schulz_dtype`` set is
:class:`lrspec_torch.muon.MuonNS`.

Implementation choice (``foreach`` / ``fused``): passed through when given; otherwise lrspec
picks the fastest implementation torch offers for the parameters: ``fused=True`` where the
family has a fused kernel for every parameter's device and dtype (adam, adamw on any fused
device; adagrad on CPU; never sgd, whose fused kernel leaves ``momentum_buffer`` uninitialised
after a step that GradScaler skips), else ``foreach=True`` (every other family but muon), and the
plain for-loop for sparse embeddings and for muon (torch has only that one). An explicit
``fused=True`` / ``foreach=True`` for a family without that implementation is a
:class:`~lrspec.TargetError` in a single-family plan; in a plan with several families it applies
to the families that have it (an error only if none has). All implementations compute torch's
update rule; they differ in float rounding only (measured and tested against :mod:`lrspec.reference`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lrspec.errors import TargetError
from lrspec.plan import Plan, PlanGroup
from lrspec.spec.families import FAMILY_DEFAULTS
from lrspec_torch.checkpoint import IMPLEMENTATION_KEYS
from lrspec_torch.classes import FAMILY_CLASSES, FOREACH_FAMILIES, FUSED_CPU_ONLY, FUSED_FAMILIES
from lrspec_torch.hybrid import HybridOptimizer
from lrspec_torch.muon import MuonNS
from lrspec_torch.names import TensorEntry

__all__ = [
    "FAMILY_CLASSES",
    "IMPLEMENTATION_KEYS",
    "build_optimizer",
    "choose_implementation",
    "group_family",
    "group_settings",
]

# checked loading of optimizer states lives in lrspec_torch.checkpoint


def _fused_devices() -> list[str]:
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        return list(_get_fused_kernels_supported_devices())
    except ImportError:  # pragma: no cover - very old torch
        return ["cuda"]


def group_family(plan: Plan, group: PlanGroup) -> str:
    """The family of ``group`` (the plan's family for a plan resolved before families per group)."""
    return group.family or plan.family


def choose_implementation(
    family: str,
    params: Sequence[torch.Tensor],
    *,
    foreach: bool | None = None,
    fused: bool | None = None,
    sparse: bool = False,
    strict: bool = True,
) -> dict[str, bool | None]:
    """``{"foreach": ..., "fused": ...}`` for the torch constructor.

    Explicit values are validated and passed through; ``None`` for both lets lrspec choose
    (see the module docstring). ``sparse`` (the model has sparse-gradient embeddings) rules
    out fused and foreach. ``strict=False`` (a plan with several families): an explicit True
    this family lacks is dropped instead of refused.
    """
    if foreach and fused:
        raise TargetError("foreach=True and fused=True cannot be combined; pick one (or neither to let lrspec choose)")
    if fused and family not in FUSED_FAMILIES:
        if strict:
            raise TargetError(f"torch has no fused {family} optimizer; use foreach=True or leave fused unset")
        fused = None
    if foreach and family not in FOREACH_FAMILIES:
        if strict:
            raise TargetError(f"torch has no foreach {family} optimizer (only its for-loop); leave foreach unset")
        foreach = None
    if foreach is not None or fused is not None:
        return {"foreach": foreach, "fused": fused}
    if sparse or family not in FOREACH_FAMILIES:
        return {"foreach": False, "fused": False}
    devices = {p.device.type for p in params}
    # never sgd by default: torch 2.13's fused SGD allocates momentum_buffer with empty_like on a
    # step GradScaler skips and reads it uninitialised at the next one (docs/integrations.md)
    fusable = (
        family in FUSED_FAMILIES
        and family != "sgd"
        and all(p.is_floating_point() for p in params)
        and devices <= set(_fused_devices())
        and (family not in FUSED_CPU_ONLY or devices <= {"cpu"})
    )
    if fusable:
        return {"foreach": None, "fused": True}
    return {"foreach": True, "fused": None}


def has_sparse_embeddings(model: Any) -> bool:
    """True when ``model`` has an ``nn.Embedding``/``nn.EmbeddingBag`` with ``sparse=True``."""
    if not isinstance(model, nn.Module):
        return False
    return any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse for m in model.modules())


def group_settings(group: PlanGroup, *, family: str | None = None) -> dict[str, Any]:
    """The torch param-group keys of a plan group, besides ``params`` and ``lr``; ``family``
    (given for plans with several families) adds the ``"family"`` key."""
    out: dict[str, Any] = {"name": group.name, "weight_decay": group.weight_decay}
    for key, value in group.hyperparameters.items():
        out[key] = tuple(value) if isinstance(value, list) else value
    if family is not None:
        out["family"] = family
    return out


def _constructor_kwargs(cls: type[torch.optim.Optimizer], implementation: dict[str, bool | None]) -> dict[str, Any]:
    """The implementation flags ``cls`` takes (a False/None for a flag it lacks is what it does anyway)."""
    accepted = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in implementation.items() if v is not None and k in accepted}


def _build_one(
    plan: Plan,
    family: str,
    groups: list[dict[str, Any]],
    implementation: dict[str, bool | None],
    newton_schulz_dtype: torch.dtype | None,
) -> torch.optim.Optimizer:
    cls = FAMILY_CLASSES.get(family)
    if cls is None:  # pragma: no cover - the spec model only allows the known families
        raise TargetError(f"the torch target does not support optimizer family {family!r}")
    if family == plan.family:
        top = plan.optimizer
        defaults: dict[str, Any] = {"lr": top.lr, "weight_decay": top.weight_decay}
        for key in groups[0]:
            if key not in ("params", "name", "lr", "weight_decay", "family"):
                value = getattr(top, key)
                defaults[key] = tuple(value) if isinstance(value, list) else value
    else:
        defaults = dict(FAMILY_DEFAULTS[family])
    defaults.update(_constructor_kwargs(cls, implementation))
    kwargs: dict[str, Any] = {}
    if family == "muon" and newton_schulz_dtype is not None:
        cls, kwargs = MuonNS, {"newton_schulz_dtype": newton_schulz_dtype}
    try:
        opt = cls(groups, **defaults, **kwargs)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise TargetError(f"torch.optim.{FAMILY_CLASSES[family].__name__} rejected the compiled groups: {exc}") from exc
    if family == "adagrad":
        # torch.optim.Adagrad fills every accumulator with the *constructor's*
        # initial_accumulator_value; apply each group's own value.
        for pg in opt.param_groups:
            init = float(pg["initial_accumulator_value"])
            if init != float(defaults["initial_accumulator_value"]):
                for p in pg["params"]:
                    opt.state[p]["sum"].fill_(complex(init, init) if p.is_complex() else init)
    return opt


def build_optimizer(
    plan: Plan,
    entries: Sequence[TensorEntry],
    *,
    foreach: bool | None = None,
    fused: bool | None = None,
    sparse: bool = False,
    newton_schulz_dtype: torch.dtype | None = None,
) -> torch.optim.Optimizer:
    """The torch optimizer of ``plan`` over the (deduplicated) tensors ``entries`` (see the
    module docstring): a stock optimizer for one family, a :class:`HybridOptimizer` for several.

    Tensors keep model order within each group; permanently frozen tensors are left out.
    """
    members: dict[str, list[torch.Tensor]] = {g.name: [] for g in plan.trainable_groups}
    for e in entries:
        if not e.group.frozen:
            members[e.group.name].append(e.tensor)
    # groups in the order they start training (ties in plan order), so group 0 trains from the
    # start whenever some group does: tools that log group 0's lr (HF Trainer) show a real lr
    ordered = sorted(plan.trainable_groups, key=lambda g: g.frozen_until or 0)
    if not ordered:
        raise TargetError(
            "every parameter is permanently frozen, so there is nothing to optimize "
            "(torch optimizers need at least one parameter)"
        )
    families = list(dict.fromkeys(group_family(plan, g) for g in ordered))
    mixed = len(families) > 1
    if mixed and (fused or foreach):
        flag, have = ("fused", FUSED_FAMILIES) if fused else ("foreach", FOREACH_FAMILIES)
        if not any(f in have for f in families):
            raise TargetError(
                f"torch has no {flag} implementation for any of this plan's families ({', '.join(families)})"
            )
    built: list[torch.optim.Optimizer] = []
    order: list[tuple[int, int]] = []
    position: dict[str, int] = {}
    for family in families:
        mine = [g for g in ordered if group_family(plan, g) == family]
        for j, g in enumerate(mine):
            position[g.name] = j
        tensors = [p for g in mine for p in members[g.name]]
        impl = choose_implementation(family, tensors, foreach=foreach, fused=fused, sparse=sparse, strict=not mixed)
        groups = [
            {"params": members[g.name], "lr": g.lr_at(0), **group_settings(g, family=family if mixed else None)}
            for g in mine
        ]
        built.append(_build_one(plan, family, groups, impl, newton_schulz_dtype))
    if not mixed:
        return built[0]
    order = [(families.index(group_family(plan, g)), position[g.name]) for g in ordered]
    defaults = {"lr": plan.optimizer.lr, "weight_decay": plan.optimizer.weight_decay}
    return HybridOptimizer(built, families, order, defaults)
