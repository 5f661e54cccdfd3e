"""The result of compiling a Plan for torch: optimizer, scheduler, plan, and a readable table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from lrspec.plan import Plan
from lrspec.tools.explain import plan_table
from lrspec.tools.render import DEFAULT_WIDTH, fmt_float, render_table
from lrspec_torch.hybrid import HybridOptimizer
from lrspec_torch.scheduler import PlanScheduler

__all__ = ["CompiledTorch"]


def _impl(optimizer: torch.optim.Optimizer) -> str:
    return ", ".join(f"{k}={optimizer.defaults.get(k)}" for k in ("foreach", "fused"))


@dataclass
class CompiledTorch:
    """What ``lrspec.compile(spec, model, target="torch")`` returns.

    ``optimizer`` is a plain ``torch.optim`` optimizer (one param group per trainable plan
    group, each with ``"name"``), or for a plan with several families one
    :class:`~lrspec_torch.hybrid.HybridOptimizer` (groups also carry ``"family"``); ``scheduler`` is a :class:`PlanScheduler`; ``plan`` is the
    resolved plan. Train with ``loss.backward(); optimizer.step(); scheduler.step();
    optimizer.zero_grad()``.
    """

    optimizer: torch.optim.Optimizer
    scheduler: PlanScheduler
    plan: Plan

    def state_dict(self) -> dict[str, Any]:
        """``{"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}``."""
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load :meth:`state_dict` output: all of it or nothing.

        The scheduler state is checked first, then the optimizer state is checked and loaded
        (:mod:`lrspec_torch.checkpoint`), then the scheduler state is applied; a
        :class:`lrspec.CheckpointError` from any check leaves both exactly as they were."""
        from lrspec.errors import CheckpointError

        if not isinstance(state, Mapping) or "optimizer" not in state or "scheduler" not in state:
            raise CheckpointError(
                "expected a dict with 'optimizer' and 'scheduler' entries (CompiledTorch.state_dict())"
            )
        self.scheduler.check_state_dict(state["scheduler"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def lightning(self) -> dict[str, Any]:
        """What a LightningModule's ``configure_optimizers`` returns for this plan:
        ``{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step",
        "frequency": 1}}``. The schedule counts updates, so the scheduler must be stepped after
        every optimizer step; Lightning's default ``"interval": "epoch"`` would step it once
        per epoch (lrspec warns when that happens)."""
        return {
            "optimizer": self.optimizer,
            "lr_scheduler": {"scheduler": self.scheduler, "interval": "step", "frequency": 1},
        }

    def rows(self, t: int | None = None) -> list[dict[str, Any]]:
        """One dict per optimizer param group: name, tensor count, numel, lr at ``t``
        (default: now; 0 while frozen), weight decay, and the family in a plan with several."""
        t = self.scheduler.t if t is None else t
        return [
            {
                "group": g.name,
                "params": len(pg["params"]),
                "numel": sum(p.numel() for p in pg["params"]),
                "lr": g.lr_at(t),
                "weight_decay": g.weight_decay,
                **({"family": g.family} if self.plan.mixed_families else {}),
            }
            for g, pg in zip(self.scheduler.plan_groups, self.optimizer.param_groups)
        ]

    def describe(self, t: int | None = None, *, params: bool = False, width: int = DEFAULT_WIDTH) -> str:
        """A readable summary: the torch optimizer and its implementation, the param groups
        with their lr at update ``t`` (default: now), then the plan
        (:func:`lrspec.tools.explain.plan_table`; ``params=True`` adds one row per parameter)."""
        t = self.scheduler.t if t is None else t
        inner = getattr(self.optimizer, "optimizers", None)
        if isinstance(self.optimizer, HybridOptimizer) and inner is not None:
            kinds = "; ".join(
                f"{family}: torch.optim.{type(o).__name__} ({_impl(o)})"
                for family, o in zip(self.optimizer.families, inner)
            )
            what = f"lrspec HybridOptimizer [{kinds}]"
        else:
            what = f"torch.optim.{type(self.optimizer).__name__} ({_impl(self.optimizer)})"
        head = f"{what}: {len(self.optimizer.param_groups)} param group(s), t = {t}"
        mixed = self.plan.mixed_families
        rows = [
            [
                r["group"],
                *([r["family"]] if mixed else []),
                str(r["params"]),
                str(r["numel"]),
                fmt_float(r["lr"]),
                fmt_float(r["weight_decay"]),
            ]
            for r in self.rows(t)
        ]
        headers = ["param group", *(["family"] if mixed else []), "tensors", "numel", f"lr@{t}", "wd"]
        align = ["l", *(["l"] if mixed else []), "r", "r", "r", "r"]
        table = render_table(headers, rows, width=width, align=align)
        return "\n".join([head, table, "", plan_table(self.plan, width=width, params=params)])

    def __str__(self) -> str:
        return self.describe()
