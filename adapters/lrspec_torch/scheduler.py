"""The lrspec scheduler: a ``torch.optim.lr_scheduler.LRScheduler`` that runs a Plan's timeline.

Step convention: ``t`` (``scheduler.last_epoch``) counts the optimizer updates already
applied; the first update uses ``t = 0``. Call ``optimizer.step()`` then ``scheduler.step()``
once per update (torch's order). Constructing the scheduler sets every group's lr to its
value at ``t = 0``.

What it does at each ``t``:

* every param group's ``"lr"`` is ``group.lr * m(t)`` computed in closed form from the plan
  (no recursive multiplication, so no drift), or ``0.0`` while the group is frozen;
* freeze-until: parameters frozen until update ``N`` are in the optimizer from the start;
  an optimizer step pre-hook discards (sets to ``None``) any gradient they carry at every
  ``optimizer.step()`` with ``t < N``, so they get no update, no optimizer state and no
  weight decay, whoever set the gradient. From ``t = N`` on they train, with optimizer state
  created fresh at ``N`` (the schedule clock does not restart). Their ``requires_grad``
  stays True (DistributedDataParallel registers gradients to all-reduce once, when it wraps
  the model); with ``skip_frozen_backward=True`` (single process only) it is False while
  they are frozen so backward skips them, and set back to True when ``t`` reaches ``N``.

State: :meth:`state_dict` is plain data (``t``, the step count, the plan's fingerprint and
group names), loadable with ``torch.load(..., weights_only=True)``. :meth:`load_state_dict`
raises :class:`lrspec.CheckpointError` for a state saved from another plan or a corrupt one,
and re-applies the lrs of the restored ``t`` at once, so it may be called before or after
``optimizer.load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrspec.errors import CheckpointError, TargetError
from lrspec.plan import Plan, PlanGroup

__all__ = ["STATE_FORMAT", "PlanScheduler"]

STATE_FORMAT = "lrspec.torch.PlanScheduler"
STATE_VERSION = 1


class PlanScheduler(LRScheduler):
    """Sets each param group's lr to the plan's ``lr(t)`` and owns the freeze timeline.

    ``optimizer`` must have one param group per trainable plan group, each carrying the plan
    group's ``"name"`` (as :func:`lrspec.compile` builds it).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, plan: Plan, *, skip_frozen_backward: bool = False) -> None:
        groups: list[PlanGroup] = []
        trainable = {g.name: g for g in plan.trainable_groups}
        for i, pg in enumerate(optimizer.param_groups):
            name = pg.get("name")
            if name not in trainable:
                raise TargetError(
                    f"optimizer param group {i} ({'name ' + repr(name) if name is not None else 'no name'}) is not a "
                    f"trainable group of the plan ({', '.join(trainable)})"
                )
            groups.append(trainable[name])
        self.plan = plan
        self.skip_frozen_backward = bool(skip_frozen_backward)
        self._plan_groups: tuple[PlanGroup, ...] = tuple(groups)
        # the groups frozen until some update N (their grads are discarded / requires_grad toggled)
        self._unfreezing: tuple[tuple[int, PlanGroup], ...] = tuple(
            (i, g) for i, g in enumerate(groups) if g.frozen_until is not None
        )
        self._step_hook = optimizer.register_step_pre_hook(self._discard_frozen_grads)
        for pg, g in zip(optimizer.param_groups, groups):
            # base lr before schedule and freezes (torch's LRScheduler convention: base_lrs)
            pg.setdefault("initial_lr", g.lr)
        super().__init__(optimizer)
        self._sync_requires_grad()

    @property
    def plan_groups(self) -> tuple[PlanGroup, ...]:
        """The plan group of each optimizer param group, in the optimizer's order."""
        return self._plan_groups

    @property
    def t(self) -> int:
        """Updates applied so far (the ``t`` the next ``optimizer.step()`` uses)."""
        return int(self.last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        """``[group.lr_at(t) for each param group]`` with ``t = last_epoch`` (closed form):
        ``group.lr * m(t)``, or 0.0 while the group is frozen."""
        lrs: list[float | torch.Tensor] = [*self.plan.lrs_at(self.last_epoch, self._plan_groups)]
        return lrs

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        return self.get_lr()

    def frozen_group_names(self, t: int | None = None) -> list[str]:
        """Names of the optimizer's groups frozen at update ``t`` (default: the current one)."""
        t = self.last_epoch if t is None else t
        return [g.name for g in self._plan_groups if g.is_frozen_at(t)]

    def _discard_frozen_grads(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        t = self.last_epoch
        for i, g in self._unfreezing:
            if g.is_frozen_at(t):
                for p in optimizer.param_groups[i]["params"]:
                    p.grad = None

    def _sync_requires_grad(self) -> None:
        if not self.skip_frozen_backward:
            return
        t = self.last_epoch
        for i, g in self._unfreezing:
            wanted = not g.is_frozen_at(t)
            for p in self.optimizer.param_groups[i]["params"]:
                if p.requires_grad != wanted:
                    p.requires_grad_(wanted)

    def step(self, epoch: int | None = None) -> None:
        """Advance ``t`` by one (call after ``optimizer.step()``) and set the new lrs."""
        super().step(epoch)
        self._sync_requires_grad()

    def state_dict(self) -> dict[str, Any]:
        """Plain data: ``{"format", "version", "fingerprint", "t", "step_count", "groups"}``."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "fingerprint": self.plan.fingerprint,
            "t": int(self.last_epoch),
            "step_count": int(self._step_count),
            "groups": [g.name for g in self._plan_groups],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:  # type: ignore[override]
        """Restore ``t`` from :meth:`state_dict` output and set the lrs of that ``t``.

        Raises :class:`lrspec.CheckpointError` when the state is not an lrspec scheduler
        state, is corrupt, or was saved for a different plan (fingerprint mismatch).
        """
        if not isinstance(state_dict, Mapping):
            raise CheckpointError(f"scheduler state must be a dict, got {type(state_dict).__name__}")
        if state_dict.get("format") != STATE_FORMAT:
            keys = sorted(map(str, state_dict))
            raise CheckpointError(
                f"not an lrspec torch scheduler state (keys: {', '.join(keys) or 'none'}); "
                "it was saved from a different scheduler"
            )
        if state_dict.get("version") != STATE_VERSION:
            raise CheckpointError(
                f"unsupported lrspec scheduler state version {state_dict.get('version')!r} (expected {STATE_VERSION})"
            )
        fp = state_dict.get("fingerprint")
        if fp != self.plan.fingerprint:
            saved = state_dict.get("groups")
            ours = [g.name for g in self._plan_groups]
            detail = f"; saved groups {saved}, this plan's {ours}" if saved != ours else ""
            raise CheckpointError(
                f"scheduler state was saved for a different plan (fingerprint {fp!r}, this plan {self.plan.fingerprint!r})"
                f"{detail}: the spec or the model's parameters changed since the checkpoint"
            )
        t, count = state_dict.get("t"), state_dict.get("step_count")
        for key, value in (("t", t), ("step_count", count)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CheckpointError(f"corrupt scheduler state: {key} = {value!r} is not a non-negative integer")
        assert isinstance(t, int) and isinstance(count, int)
        self.last_epoch = t
        self._step_count = count
        lrs = self.get_lr()
        for pg, lr in zip(self.optimizer.param_groups, lrs):
            pg["lr"] = lr
        self._last_lr = list(lrs)
        self._sync_requires_grad()
