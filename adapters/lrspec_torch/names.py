"""Canonical parameter names of a torch model, and tied-parameter handling.

Canonical names are ``named_parameters(remove_duplicate=False)`` names of the *unwrapped*
model: a ``DistributedDataParallel`` / ``DataParallel`` ``module.`` prefix and a
``torch.compile`` ``_orig_mod.`` prefix are stripped (the wrapper is unwrapped), and FSDP /
activation-checkpoint wrapper segments (``_fsdp_wrapped_module.``,
``_checkpoint_wrapped_module.``) are removed, so a spec written against the plain model
matches the wrapped one.

Tied parameters (one tensor under several names, e.g. an embedding shared with the output
layer) appear under every name, so the spec can match either; they are then deduplicated by
object identity (torch rejects a tensor in two param groups, and would update a tensor
listed twice in one group twice). Two names of one tensor resolving to different plan
groups is a :class:`lrspec.ResolveError` naming both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from lrspec.errors import ResolveError, TargetError
from lrspec.plan import Plan, PlanGroup

__all__ = [
    "TensorEntry",
    "canonical_name",
    "distributed_kind",
    "named_tensors",
    "tensor_entries",
    "unwrap",
]

_WRAPPER_SEGMENTS = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")


def _ddp_types() -> tuple[type, ...]:
    types: list[type] = [nn.DataParallel]
    try:
        from torch.nn.parallel import DistributedDataParallel

        types.append(DistributedDataParallel)
    except ImportError:  # pragma: no cover - torch built without distributed
        pass
    return tuple(types)


def _compiled_type() -> type[Any] | None:
    try:
        from torch._dynamo.eval_frame import OptimizedModule

        return OptimizedModule
    except ImportError:  # pragma: no cover
        return None


def _fsdp2_type() -> type | None:
    try:
        from torch.distributed.fsdp import FSDPModule

        return FSDPModule
    except ImportError:  # pragma: no cover - older torch
        return None


def distributed_kind(model: Any) -> str | None:
    """How ``model`` is data-parallel-wrapped: ``"ddp"`` (DistributedDataParallel, also under
    ``torch.compile``/DataParallel), ``"fsdp"`` (an FSDP1 root), ``"fsdp2"`` (``fully_shard``),
    or None."""
    compiled = _compiled_type()
    fsdp2 = _fsdp2_type()
    inner = model
    while True:
        if isinstance(inner, nn.DataParallel):
            inner = inner.module
        elif compiled is not None and isinstance(inner, compiled):
            inner = inner._orig_mod
        elif isinstance(inner, _ddp_types()):
            return "ddp"
        elif type(inner).__name__ == "FullyShardedDataParallel":
            return "fsdp"
        elif fsdp2 is not None and isinstance(inner, fsdp2):
            return "fsdp2"
        else:
            return None


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DDP / DataParallel / ``torch.compile`` wrappers (any nesting)."""
    compiled = _compiled_type()
    inner: nn.Module = model
    while True:
        if isinstance(inner, _ddp_types()):
            inner = cast(nn.Module, inner.module)
        elif compiled is not None and isinstance(inner, compiled):
            inner = cast(nn.Module, inner._orig_mod)
        else:
            return inner


def canonical_name(name: str) -> str:
    """``name`` without FSDP / checkpoint-wrapper segments."""
    for seg in _WRAPPER_SEGMENTS:
        name = name.replace(seg, "")
    return name


def named_tensors(model: Any) -> list[tuple[str, torch.Tensor]]:
    """``(canonical name, tensor)`` for every name of every parameter, in model order.

    ``model`` is an ``nn.Module`` (possibly DDP/DataParallel/torch.compile-wrapped), a mapping
    name -> tensor, or an iterable of ``(name, tensor)`` pairs (e.g. ``model.named_parameters()``).
    A tied tensor is listed once per name. Raises :class:`lrspec.TargetError` for anything else.
    """
    pairs: Iterable[Any]
    if isinstance(model, nn.Module):
        pairs = unwrap(model).named_parameters(remove_duplicate=False)
    elif isinstance(model, torch.Tensor):
        raise TargetError(
            "the torch target needs an nn.Module or (name, parameter) pairs, got a single Tensor; "
            "pass e.g. {'weight': tensor}"
        )
    elif isinstance(model, Mapping):
        pairs = model.items()
    elif isinstance(model, (str, bytes)) or not isinstance(model, Iterable):
        raise TargetError(
            "the torch target needs an nn.Module, a mapping name -> Parameter or an iterable of "
            f"(name, Parameter) pairs (e.g. model.named_parameters()), got {type(model).__name__}"
        )
    else:
        pairs = model
    out: list[tuple[str, torch.Tensor]] = []
    for k, item in enumerate(pairs):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TargetError(
                f"the torch target needs (name, Parameter) pairs, but item {k} is a {type(item).__name__}"
                + (
                    " (did you pass model.parameters() instead of model.named_parameters()?)"
                    if isinstance(item, torch.Tensor)
                    else ""
                )
            )
        name, tensor = item
        if not isinstance(name, str):
            raise TargetError(f"parameter names must be strings, item {k} has name {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise TargetError(f"parameter {name!r} is a {type(tensor).__name__}, not a torch Tensor")
        if not tensor.is_leaf:
            raise TargetError(
                f"parameter {name!r} is not a leaf tensor (it was computed from other tensors), so no "
                "optimizer can update it; pass the nn.Parameter itself"
            )
        if not (tensor.is_floating_point() or tensor.is_complex()):
            raise TargetError(f"parameter {name!r} has dtype {tensor.dtype}; optimizers need floating-point tensors")
        out.append((canonical_name(name), tensor))
    return out


@dataclass(frozen=True, eq=False)
class TensorEntry:
    """One distinct tensor: every canonical name it has and the plan group they resolve to."""

    tensor: torch.Tensor
    names: tuple[str, ...]
    group: PlanGroup


def tensor_entries(plan: Plan, named: list[tuple[str, torch.Tensor]]) -> list[TensorEntry]:
    """Deduplicate ``named`` by tensor identity and attach each tensor's plan group.

    Raises :class:`lrspec.TargetError` when the plan was resolved for other names, and
    :class:`lrspec.ResolveError` when two names of one tensor resolve to different groups.
    """
    model_names = [n for n, _ in named]
    plan_names = set(plan.names)
    missing = [n for n in model_names if n not in plan_names]
    extra = sorted(plan_names.difference(model_names))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not in the plan: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""))
        if extra:
            parts.append(f"not in the model: {', '.join(extra[:10])}" + (" ..." if len(extra) > 10 else ""))
        raise TargetError(
            "the plan was resolved for different parameters than this model's (" + "; ".join(parts) + "); "
            "resolve the spec against this model (lrspec.compile(spec, model) does)"
        )
    by_id: dict[int, list[str]] = {}
    tensors: dict[int, torch.Tensor] = {}
    for name, tensor in named:
        key = id(tensor)
        by_id.setdefault(key, []).append(name)
        tensors[key] = tensor
    entries: list[TensorEntry] = []
    for key, names in by_id.items():
        groups = [plan.group_of(n) for n in names]
        first = groups[0]
        for n, g in zip(names[1:], groups[1:]):
            if g is not first:
                raise ResolveError(
                    f"tied parameters {names[0]!r} and {n!r} are one tensor but resolve to different settings "
                    f"({names[0]!r} -> group {first.name!r} from spec groups {list(first.sources)}, lr {first.lr:g}; "
                    f"{n!r} -> group {g.name!r} from spec groups {list(g.sources)}, lr {g.lr:g}); "
                    "make the spec give both names the same settings"
                )
        entries.append(TensorEntry(tensors[key], tuple(names), first))
    return entries
