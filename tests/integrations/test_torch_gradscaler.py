"""torch.amp.GradScaler skipping steps (inf gradients) with lrspec, measured against torch itself.

References: stock ``torch.optim.Adam``/``SGD`` with their CPU default (the for-loop), whose step
GradScaler does not call on a skipped step, stock ``fused=True`` (GradScaler calls its step with
the inf flag), and a closed-form lr written here. Measured on torch 2.13 CPU:

* 2 of 7 steps skipped (not the first): lrspec's default (fused on CPU), foreach and the for-loop
  give stock's parameters (1e-6), ``t`` counts scheduler.step() calls, no drift warning;
* a skipped FIRST step (Adam, AdamW, Adagrad): the fused optimizer's step runs (its step hooks
  too) and, for Adam/AdamW, creates the state (``step`` 0, zero moments), exactly as stock fused;
  foreach and the for-loop create none, as stock's default (Adagrad creates its state at
  construction either way); parameters and final step counts equal stock's either way;
* SGD with momentum, skipped first step: torch's fused SGD allocates ``momentum_buffer`` with
  ``torch.empty_like`` and the skipped kernel never writes it, so the next update uses
  uninitialised memory. lrspec with ``foreach=True`` or ``fused=False`` equals stock SGD.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from lrspec_torch.clock import LrSpecClockWarning  # noqa: E402
from torch import nn  # noqa: E402

import lrspec  # noqa: E402

SKIP = {1, 4}
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.05},
    "schedule": {"type": "exponential", "decay_rate": 0.5, "decay_steps": 2},
}
SGD_SPEC: dict[str, Any] = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9}}
IMPLEMENTATIONS = {"default": {}, "foreach": {"foreach": True}, "for-loop": {"fused": False, "foreach": False}}


class Run:
    """7 GradScaler steps of ``nn.Linear(3, 2)``; records the state after the first step and how
    often the optimizer's step ran."""

    def __init__(self, make: Any, skip: set[int]) -> None:
        torch.manual_seed(0)
        self.model = nn.Linear(3, 2)
        self.opt, self.sched = make(self.model)
        self.calls = 0
        self.opt.register_step_post_hook(self._count)
        scaler = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1000)
        x = torch.randn(7, 8, 3, generator=torch.Generator().manual_seed(1))
        for t in range(7):
            loss = self.model(x[t]).pow(2).mean() * (float("inf") if t in skip else 1.0)
            scaler.scale(loss).backward()
            scaler.step(self.opt)
            scaler.update()
            if self.sched is not None:
                self.sched.step()
            self.opt.zero_grad()
            if t == 0:
                self.first = {k: v.clone() for k, v in self.opt.state.get(self.model.weight, {}).items()}

    def _count(self, *_: Any) -> None:
        self.calls += 1

    def close_to(self, other: Run) -> bool:
        return all(
            torch.allclose(p, q, rtol=0, atol=1e-6) for p, q in zip(self.model.parameters(), other.model.parameters())
        )


def stock(model: nn.Module) -> Any:
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** (t / 2))


def compiled(spec: dict[str, Any], options: dict[str, Any]) -> Any:
    def make(model: nn.Module) -> Any:
        c = lrspec.compile(spec, model, target="torch", **options)
        return c.optimizer, c.scheduler

    return make


@pytest.mark.parametrize("options", IMPLEMENTATIONS.values(), ids=list(IMPLEMENTATIONS))
def test_skipped_steps_match_stock_adam(options: dict[str, Any]) -> None:
    ref = Run(stock, SKIP)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LrSpecClockWarning)
        run = Run(compiled(SPEC, options), SKIP)
    assert run.sched.t == 7  # scheduler.step() calls, skipped steps included (like LambdaLR)
    assert run.close_to(ref)


STOCK: dict[str, Any] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adagrad": torch.optim.Adagrad}


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("family", list(STOCK))
def test_skipped_first_step_state_is_torchs(family: str, impl: str) -> None:
    skip, cls = {0, 3}, STOCK[family]
    ref = Run(lambda m: (cls(m.parameters(), lr=0.05), None), skip)
    fused_ref = Run(lambda m: (cls(m.parameters(), lr=0.05, fused=True), None), skip)
    assert ref.calls == 5 and fused_ref.calls == 7  # GradScaler calls only a fused step() when it skips
    spec = {"version": 1, "optimizer": {"type": family, "lr": 0.05}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", LrSpecClockWarning)
        run = Run(compiled(spec, IMPLEMENTATIONS[impl]), skip)
    fused = bool(run.opt.defaults.get("fused"))
    assert fused == (impl == "default")  # lrspec's default on CPU is fused
    want = fused_ref if fused else ref
    assert run.calls == want.calls
    assert set(run.first) == set(want.first)  # Adam/AdamW: fused creates step 0 + zero moments, the others none
    assert all(not v.any() for v in run.first.values())
    assert float(run.opt.state[run.model.weight]["step"]) == float(ref.opt.state[ref.model.weight]["step"]) == 5.0
    assert run.close_to(ref)


@pytest.mark.parametrize("impl", ["foreach", "for-loop"])
def test_skipped_first_step_sgd_momentum_matches_stock(impl: str) -> None:
    skip = {0, 3}
    ref = Run(lambda m: (torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), None), skip)
    run = Run(compiled(SGD_SPEC, IMPLEMENTATIONS[impl]), skip)
    assert run.first == ref.first == {}
    assert run.close_to(ref)


def test_skipped_first_step_sgd_momentum_default_matches_stock() -> None:
    # torch 2.13's fused SGD leaves momentum_buffer uninitialised (torch.empty_like) when GradScaler
    # skips the first step, so lrspec's default for sgd is foreach
    skip = {0, 3}
    ref = Run(lambda m: (torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), None), skip)
    run = Run(compiled(SGD_SPEC, {}), skip)
    assert run.close_to(ref)
