"""Warn when the schedule's clock drifts systematically from the optimizer's updates.

``t`` counts ``scheduler.step()`` calls (like torch's own schedulers). It equals the number of
applied updates only when the scheduler is stepped once per ``optimizer.step()``. A
:class:`ClockWatch` counts both since the scheduler was built (or loaded) and warns once, with a
:class:`LrSpecClockWarning` naming lrspec, when they drift apart systematically:

    ``|ticks - updates| >= MIN_GAP`` and the larger count is at least twice the smaller.

Examples: Lightning's default ``interval: "epoch"`` (one tick per epoch: ticks << updates), a raw
scheduler stepped per micro-batch under gradient accumulation, or accelerate's
``AcceleratedScheduler`` stepping ``num_processes`` times per update (ticks >> updates). An
occasional step that ``torch.amp.GradScaler`` skips (the for-loop optimizers are then not called,
but the scheduler still ticks) leaves a bounded gap and does not warn: 2 skipped of 7, or a run of
early skips shorter than ``MIN_GAP``.
"""

from __future__ import annotations

import warnings

__all__ = ["MIN_GAP", "ClockWatch", "LrSpecClockWarning"]

MIN_GAP = 16


class LrSpecClockWarning(UserWarning):
    """lrspec's scheduler is not stepped once per optimizer update."""


class ClockWatch:
    """Counts scheduler ticks and optimizer updates; warns once on systematic drift."""

    def __init__(self) -> None:
        self.ticks = 0
        self.updates = 0
        self.warned = False

    def reset(self) -> None:
        """Start counting again (after a checkpoint load)."""
        self.ticks = 0
        self.updates = 0

    def tick(self) -> None:
        """One ``scheduler.step()``."""
        self.ticks += 1
        self._check()

    def update(self) -> None:
        """One ``optimizer.step()``."""
        self.updates += 1
        self._check()

    def _check(self) -> None:
        if self.warned:
            return
        hi, lo = max(self.ticks, self.updates), min(self.ticks, self.updates)
        if hi - lo < MIN_GAP or hi < 2 * lo:
            return
        self.warned = True
        if self.ticks > self.updates:
            how = (
                "the scheduler is stepped more often than the optimizer: step it once per optimizer update, "
                "not per micro-batch (under accelerate, pass it through accelerator.prepare, and with several "
                "processes use Accelerator(split_batches=True) or step the raw scheduler yourself when "
                "accelerator.sync_gradients)"
            )
        else:
            how = (
                "the scheduler is stepped less often than the optimizer: step it after every optimizer update "
                '(Lightning: return compiled.lightning(), i.e. "interval": "step", not the default "epoch")'
            )
        warnings.warn(
            f"lrspec: the schedule's clock t (scheduler.step() calls: {self.ticks}) has drifted from the "
            f"optimizer updates ({self.updates}); {how}. t counts scheduler.step() calls, so every lr and "
            "freeze of the plan happens at the wrong update",
            LrSpecClockWarning,
            stacklevel=4,
        )
