"""Checked loading of optimizer states: all of it, or nothing.

``optimizer.load_state_dict(state)`` of a compiled optimizer first runs
:func:`check_optimizer_state` (a load-state-dict pre-hook), which raises
:class:`lrspec.CheckpointError` (and changes nothing) unless the state is this plan's:

* structure: a dict with a ``state`` dict and a ``param_groups`` list of dicts;
* groups: the same group names in the same order, the same number of parameters in each, the
  same family per group (the ``"family"`` key of a plan with several families), and the
  group's family's hyperparameters present (a state of another optimizer family lacks them:
  an Adam state has no ``momentum`` for SGD) and equal to the plan's (weight decay too);
* lrs: every saved ``lr`` is a finite number >= 0; the lr actually kept is this optimizer's
  (the scheduler owns lrs: it sets them from ``t``, whether loaded before or after);
* per-parameter state: only the keys of its group's family
  (:data:`lrspec_torch.classes.STATE_KEYS`: SGD/Muon ``momentum_buffer``; Adam/AdamW ``step``,
  ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``; NAdam adds ``mu_product``; Adamax ``exp_inf``;
  Adadelta ``square_avg``, ``acc_delta``; Adafactor ``row_var``, ``col_var``, ``variance`` ...);
  every buffer a tensor of the shape torch gives it (the parameter's, or Adafactor's factored
  row/column shapes: :func:`lrspec_torch.classes.state_shape`), floating point (complex exactly
  when the parameter is) and finite; ``step`` (and ``mu_product``) a finite number >= 0. (A
  wrong-shaped ``exp_avg`` would otherwise crash torch's fused kernels.)

The implementation flags (``foreach``/``fused``/...) of this optimizer are kept: they choose how
torch computes the update, not what it computes. torch then replaces state and groups in one
assignment, so a refused or accepted load is all or nothing.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lrspec.errors import CheckpointError
from lrspec.plan import Plan, PlanGroup
from lrspec.spec.families import FAMILY_HYPERPARAMETERS
from lrspec_torch.classes import FAMILY_CLASSES, SCALAR_STATE, STATE_KEYS, state_shape

__all__ = ["IMPLEMENTATION_KEYS", "STATE_KEYS", "check_optimizer_state", "install_state_check"]

#: group keys that choose how torch computes the update, not what it computes
IMPLEMENTATION_KEYS = ("foreach", "fused", "capturable", "differentiable", "maximize")


def _family(plan: Plan, group: PlanGroup) -> str:
    return group.family or plan.family


def _class_name(family: str) -> str:
    cls = FAMILY_CLASSES.get(family)
    return f"torch.optim.{cls.__name__}" if cls is not None else family


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(torch.as_tensor(a).eq(torch.as_tensor(b)).all())
    return bool(a == b)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        return float(value.item())
    return None


def _check_groups(optimizer: torch.optim.Optimizer, plan: Plan, saved: list[Any]) -> list[dict[str, Any]]:
    saved_names = [g.get("name") for g in saved]
    ours = optimizer.param_groups
    our_names = [g["name"] for g in ours]
    if saved_names != our_names:
        hint = " (it was not saved from an lrspec-compiled optimizer)" if any(n is None for n in saved_names) else ""
        raise CheckpointError(
            f"optimizer state does not belong to this plan: its param groups are {saved_names}, "
            f"this optimizer's are {our_names}{hint}"
        )
    plan_groups = {g.name: g for g in plan.trainable_groups}
    groups: list[dict[str, Any]] = []
    for sg, og in zip(saved, ours):
        name = og["name"]
        params = sg.get("params")
        if not isinstance(params, list) or len(params) != len(og["params"]):
            n = len(params) if isinstance(params, list) else params
            raise CheckpointError(
                f"optimizer state does not belong to this plan: group {name!r} has {n} parameters "
                f"in the state and {len(og['params'])} here"
            )
        group = plan_groups[name]
        family = _family(plan, group)
        saved_family = sg.get("family", og.get("family", family))
        if saved_family != og.get("family", family):
            raise CheckpointError(
                f"optimizer state does not belong to this plan: group {name!r} was saved with family "
                f"{sg.get('family', 'none given')!r}, the plan's is {og.get('family', family)!r}"
            )
        family_keys = ["weight_decay", *group.hyperparameters]
        missing = [k for k in family_keys if k not in sg]
        if missing:
            raise CheckpointError(
                f"optimizer state does not belong to this plan: group {name!r} has no {', '.join(map(repr, missing))}, "
                f"which {_class_name(family)} needs (it was saved from another optimizer family)"
            )
        compared = ("weight_decay", *FAMILY_HYPERPARAMETERS.get(family, ()), *type(plan.optimizer).model_fields)
        for key, value in og.items():
            if key in ("params", "lr", "initial_lr", "name", "family", *IMPLEMENTATION_KEYS) or key not in sg:
                continue
            if key in compared and not _same(sg[key], value):
                raise CheckpointError(
                    f"optimizer state does not belong to this plan: group {name!r} was saved with "
                    f"{key}={sg[key]!r}, the plan says {value!r}"
                )
        lr = _number(sg.get("lr"))
        if lr is None or not math.isfinite(lr) or lr < 0:
            raise CheckpointError(f"corrupt optimizer state: group {name!r} has lr={sg.get('lr')!r}")
        fixed = dict(sg)
        for key in (*IMPLEMENTATION_KEYS, "lr", "initial_lr", "family"):
            if key in og:
                fixed[key] = og[key]
        groups.append(fixed)
    return groups


def _check_tensor_state(optimizer: torch.optim.Optimizer, plan: Plan, saved: list[Any], state: dict[Any, Any]) -> None:
    plan_groups = {g.name: g for g in plan.trainable_groups}
    by_id: dict[Any, tuple[str, int, torch.Tensor]] = {}
    for sg, og in zip(saved, optimizer.param_groups):
        for k, (pid, p) in enumerate(zip(sg["params"], og["params"])):
            by_id[pid] = (og["name"], k, p)
    for pid, entry in state.items():
        if pid not in by_id:
            raise CheckpointError(
                f"corrupt optimizer state: it has state for parameter id {pid!r}, which no group lists"
            )
        group, k, p = by_id[pid]
        family = _family(plan, plan_groups[group])
        allowed = STATE_KEYS.get(family, frozenset())
        where = f"parameter {k} of group {group!r} (shape {tuple(p.shape)})"
        if not isinstance(entry, dict):
            raise CheckpointError(f"corrupt optimizer state: the state of {where} is not a dict")
        foreign = sorted(str(key) for key in entry if key not in allowed)
        if foreign:
            raise CheckpointError(
                f"optimizer state does not belong to this plan: the state of {where} has {', '.join(foreign)}, "
                f"which {_class_name(family)} does not use (it was saved from another optimizer family)"
            )
        for key, value in entry.items():
            if key in SCALAR_STATE:
                n = _number(value)
                if n is None or not math.isfinite(n) or n < 0:
                    raise CheckpointError(f"corrupt optimizer state: {where} has {key}={value!r}")
                continue
            if value is None and key == "momentum_buffer":
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"corrupt optimizer state: {key} of {where} is a {type(value).__name__}")
            if tuple(value.shape) != state_shape(family, key, tuple(p.shape)):
                raise CheckpointError(
                    f"optimizer state does not fit this model: {key} of {where} has shape {tuple(value.shape)}"
                )
            if (not value.is_floating_point() and not value.is_complex()) or value.is_complex() != p.is_complex():
                raise CheckpointError(
                    f"optimizer state does not fit this model: {key} of {where} has dtype {value.dtype}, "
                    f"the parameter {p.dtype}"
                )
            if not bool(torch.isfinite(value).all()):
                raise CheckpointError(f"corrupt optimizer state: {key} of {where} is not finite (inf or NaN)")


def check_optimizer_state(optimizer: torch.optim.Optimizer, plan: Plan, state_dict: Any) -> dict[str, Any]:
    """Validate an optimizer ``state_dict`` against this compiled optimizer before torch loads it
    (see the module docstring); returns the state to load."""
    if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"), list):
        raise CheckpointError("corrupt optimizer state: expected a dict with 'state' and 'param_groups'")
    if not isinstance(state_dict.get("state"), dict):
        raise CheckpointError("corrupt optimizer state: its 'state' entry is not a dict")
    saved = state_dict["param_groups"]
    if not all(isinstance(g, dict) for g in saved):
        raise CheckpointError("corrupt optimizer state: a param group is not a dict")
    groups = _check_groups(optimizer, plan, saved)
    _check_tensor_state(optimizer, plan, saved, state_dict["state"])
    return {**state_dict, "param_groups": groups}


def install_state_check(optimizer: torch.optim.Optimizer, plan: Plan) -> None:
    """Make ``optimizer.load_state_dict`` run :func:`check_optimizer_state` first."""

    def hook(opt: torch.optim.Optimizer, state_dict: Any) -> dict[str, Any]:
        return check_optimizer_state(opt, plan, state_dict)

    optimizer.register_load_state_dict_pre_hook(hook)
