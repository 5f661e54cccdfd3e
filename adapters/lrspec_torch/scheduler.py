"""The lrspec scheduler: a ``torch.optim.lr_scheduler.LRScheduler`` that runs a Plan's timeline.

Step convention: ``t`` (``scheduler.last_epoch``) counts ``scheduler.step()`` calls, like
torch's own schedulers; the first update uses ``t = 0``. Call ``optimizer.step()`` then
``scheduler.step()`` once per update (torch's order), and ``t`` equals the number of updates
applied. A step that ``torch.amp.GradScaler`` skips (inf/NaN gradients) still advances ``t`` when
you call ``scheduler.step()`` after it, as with every torch scheduler (HF Trainer and accelerate's
``AcceleratedScheduler`` do not step the scheduler on a skipped step). When the two counts drift
apart systematically, a :class:`lrspec_torch.clock.LrSpecClockWarning` says so (once).
Constructing the scheduler sets every group's lr to its value at ``t = 0``.

What it does at each ``t``:

* every param group's ``"lr"`` is ``group.lr * m(t)`` computed in closed form from the plan
  (no recursive multiplication, so no drift), or ``0.0`` while the group is frozen;
* freeze-until: parameters frozen until update ``N`` are in the optimizer from the start, keep
  ``requires_grad=True`` (DistributedDataParallel registers gradients to all-reduce once, when
  it wraps the model) and behave as if they had no gradient while ``t < N``: a
  :class:`lrspec_torch.freezing.GradGate` sets their ``.grad`` to None as soon as backward
  accumulates it (so gradient clipping and norm logging never see it, in one process and under
  DDP), before every ``optimizer.step()``, and after the closure of ``optimizer.step(closure)``
  (Lightning's automatic optimization). They get no update, no optimizer state and no weight
  decay; from ``t = N`` on they train, with optimizer state created fresh at ``N`` (the schedule
  clock does not restart). With ``skip_frozen_backward=True`` (single process only)
  ``requires_grad`` is False while they are frozen so backward skips them, and set back to True
  when ``t`` reaches ``N``.

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
from lrspec_torch.clock import ClockWatch
from lrspec_torch.freezing import GradGate

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
        self.clock = ClockWatch()
        self._counting = False
        #: the gradient gates of this plan's frozen tensors (kept alive here; see lrspec_torch.freezing)
        self.gates: list[GradGate] = []
        if not self.skip_frozen_backward:
            for i, g in self._unfreezing:
                self.gates.append(GradGate(optimizer.param_groups[i]["params"], self._frozen_now(g)))
        self._step_hook = optimizer.register_step_pre_hook(self._discard_frozen_grads)
        self._update_hook = optimizer.register_step_post_hook(lambda *_: self.clock.update())
        for pg, g in zip(optimizer.param_groups, groups):
            # base lr before schedule and freezes (torch's LRScheduler convention: base_lrs)
            pg.setdefault("initial_lr", g.lr)
        super().__init__(optimizer)
        self._counting = True
        self._sync_requires_grad()

    def _frozen_now(self, group: PlanGroup) -> Any:
        return lambda: group.is_frozen_at(self.last_epoch)

    @property
    def plan_groups(self) -> tuple[PlanGroup, ...]:
        """The plan group of each optimizer param group, in the optimizer's order."""
        return self._plan_groups

    @property
    def t(self) -> int:
        """``scheduler.step()`` calls so far (the ``t`` the next ``optimizer.step()`` uses; a step GradScaler skips still counts)."""
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

    def _discard_now(self) -> None:
        t = self.last_epoch
        for i, g in self._unfreezing:
            if g.is_frozen_at(t):
                for p in self.optimizer.param_groups[i]["params"]:
                    p.grad = None

    def _discard_frozen_grads(
        self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Step pre-hook: discard frozen gradients now and, for ``step(closure)``, again after
        the closure has run its backward (torch calls pre-hooks before the closure)."""
        self._discard_now()
        if not self._unfreezing:
            return None
        # torch passes the bound call's arguments: args[0] is the optimizer itself
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if closure is None:
            return None

        def gated_closure() -> Any:
            loss = closure()
            self._discard_now()
            return loss

        if "closure" in kwargs:
            return tuple(args), {**kwargs, "closure": gated_closure}
        return (args[0], gated_closure, *args[2:]), dict(kwargs)

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
        if self._counting:
            self.clock.tick()
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
        state, is corrupt, or was saved for a different plan (fingerprint mismatch); a refused
        state changes nothing.
        """
        t, count = self.check_state_dict(state_dict)
        self.last_epoch = t
        self._step_count = count
        lrs = self.get_lr()
        for pg, lr in zip(self.optimizer.param_groups, lrs):
            pg["lr"] = lr
        self._last_lr = list(lrs)
        self.clock.reset()
        self._sync_requires_grad()

    def check_state_dict(self, state_dict: Any) -> tuple[int, int]:
        """Validate a :meth:`state_dict` output for this plan; returns ``(t, step_count)``.

        Raises :class:`lrspec.CheckpointError` as :meth:`load_state_dict` says; changes nothing.
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
        return t, count
