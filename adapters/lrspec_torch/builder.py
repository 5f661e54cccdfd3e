"""Compiling a plan for torch: the optimizer, the scheduler and their checks (see :mod:`lrspec_torch.target`)."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec_torch.checkpoint import install_state_check
from lrspec_torch.compiled import CompiledTorch
from lrspec_torch.freezing import GradGate
from lrspec_torch.modules import param_meta
from lrspec_torch.muon import ns_dtype
from lrspec_torch.names import distributed_kind, named_tensors, tensor_entries
from lrspec_torch.optimizer import build_optimizer, has_sparse_embeddings
from lrspec_torch.scheduler import PlanScheduler
from lrspec_torch.statistics import freeze_statistics

__all__ = ["OPTIONS", "compile_plan", "param_shapes"]

OPTIONS = ("foreach", "fused", "newton_schulz_dtype", "set_requires_grad", "skip_frozen_backward")


def _opt_bool(options: Mapping[str, Any], key: str, default: bool | None) -> bool | None:
    value = options.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise TargetError(f"option {key}={value!r}: expected True, False or None")
    return value


def _distributed_world() -> int:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return int(dist.get_world_size())
    except (ImportError, RuntimeError):  # pragma: no cover
        pass
    return 1


def param_shapes(model: Any) -> Mapping[str, Any]:
    """Canonical name -> :class:`lrspec.ParamMeta` (shape and owning module, see
    :mod:`lrspec_torch.modules`) for every name of every parameter of an ``nn.Module`` (tied
    tensors under each name); name -> shape for (name, tensor) pairs."""
    return param_meta(model)


def compile_plan(plan: Plan, model: Any, **options: Any) -> CompiledTorch:
    """Build the optimizer and scheduler of ``plan`` for ``model``.

    ``model``: an ``nn.Module`` (possibly DDP/DataParallel/torch.compile-wrapped), a mapping
    name -> Parameter, or an iterable of ``(name, Parameter)``. Raises
    :class:`lrspec.TargetError` for an unknown option, a model that is not one of these, a
    plan resolved for other names, or ``skip_frozen_backward`` with DDP/FSDP;
    :class:`lrspec.ResolveError` when two names of one tensor resolve to different groups.
    """
    unknown = [k for k in options if k not in OPTIONS]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, OPTIONS, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TargetError(f"unknown torch target option(s) {', '.join(hints)}; options are: {', '.join(OPTIONS)}")
    if not isinstance(plan, Plan):
        raise TargetError(f"compile() needs a lrspec.Plan, got {type(plan).__name__}")
    foreach = _opt_bool(options, "foreach", None)
    fused = _opt_bool(options, "fused", None)
    set_requires_grad = bool(_opt_bool(options, "set_requires_grad", True))
    skip_frozen_backward = bool(_opt_bool(options, "skip_frozen_backward", False))
    newton_schulz_dtype = ns_dtype(options.get("newton_schulz_dtype"))

    kind = distributed_kind(model)
    distributed = kind is not None
    has_until = any(g.frozen_until is not None for g in plan.trainable_groups)
    if skip_frozen_backward and has_until:
        if distributed:
            raise TargetError(
                "skip_frozen_backward=True cannot be used with a DistributedDataParallel/FSDP model: DDP decides "
                "which gradients to all-reduce when it wraps the model, so parameters whose requires_grad turns "
                "on later would silently train differently on each rank; leave skip_frozen_backward off"
            )
        if _distributed_world() > 1:
            warnings.warn(
                "skip_frozen_backward=True in a distributed run: if this model is wrapped in DDP after compile, "
                "parameters unfrozen later are never all-reduced and the ranks drift apart silently; "
                "use it only for single-process training",
                UserWarning,
                stacklevel=4,
            )

    named = named_tensors(model)
    entries = tensor_entries(plan, named)

    if set_requires_grad:
        kept = []
        for e in entries:
            if e.group.frozen and e.tensor.requires_grad:
                if kind in ("ddp", "fsdp"):
                    kept.append(e.names[0])
                else:
                    e.tensor.requires_grad_(False)
        if kept:
            wrapper = "DDP" if kind == "ddp" else "FSDP"
            warnings.warn(
                f"the model is already wrapped in {wrapper}, so {len(kept)} permanently frozen parameter(s) "
                f"(e.g. {kept[0]!r}) keep requires_grad=True (turning it off after wrapping breaks DDP's reducer: 'Expected to have finished reduction'); "
                "they are not updated and their gradients are discarded as soon as backward computes them "
                "(so clipping never sees them), but backward still computes them. Compile before wrapping "
                "to skip them.",
                UserWarning,
                stacklevel=4,
            )
    no_grad = [e.names[0] for e in entries if not e.group.frozen and not e.tensor.requires_grad]
    if no_grad:
        warnings.warn(
            f"{len(no_grad)} parameter(s) the plan trains have requires_grad=False (e.g. {no_grad[0]!r}): "
            "backward gives them no gradient, so they will not change",
            UserWarning,
            stacklevel=4,
        )

    sparse = has_sparse_embeddings(model)
    optimizer = build_optimizer(
        plan, entries, foreach=foreach, fused=fused, sparse=sparse, newton_schulz_dtype=newton_schulz_dtype
    )
    install_state_check(optimizer, plan)
    scheduler = PlanScheduler(optimizer, plan, skip_frozen_backward=skip_frozen_backward)
    kept_tensors = [e.tensor for e in entries if e.group.frozen and e.tensor.requires_grad]
    if kept_tensors and set_requires_grad:
        # permanently frozen but requires_grad=True because the model was already DDP/FSDP-wrapped:
        # they behave as if they had no gradient (clipping, norms), see lrspec_torch.freezing
        scheduler.gates.append(GradGate(kept_tensors, lambda: True))
    freeze_statistics(plan, model)  # freeze_statistics groups: their norm modules stay in eval mode
    return CompiledTorch(optimizer=optimizer, scheduler=scheduler, plan=plan)
