"""torch.amp.GradScaler skipping steps (inf gradients at 2 of 7 steps) with lrspec.

Compared with stock ``torch.optim.Adam`` (its CPU default, the for-loop) and a closed-form lr
written here: lrspec's default (fused on CPU) and foreach give the same parameters, the scheduler's
``t`` counts scheduler.step() calls (skipped steps included), and no drift warning is raised.
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


def run(make: Any) -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt, sched = make(model)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1000)
    x = torch.randn(7, 8, 3, generator=torch.Generator().manual_seed(1))
    for t in range(7):
        loss = model(x[t]).pow(2).mean() * (float("inf") if t in SKIP else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        opt.zero_grad()
    return model, sched


def stock(model: nn.Module) -> Any:
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** (t / 2))


@pytest.mark.parametrize("options", [{}, {"foreach": True}, {"fused": False, "foreach": False}])
def test_skipped_steps_match_stock_adam(options: dict[str, Any]) -> None:
    ref, _ = run(stock)

    def compiled(model: nn.Module) -> Any:
        c = lrspec.compile(SPEC, model, target="torch", **options)
        return c.optimizer, c.scheduler

    with warnings.catch_warnings():
        warnings.simplefilter("error", LrSpecClockWarning)
        model, sched = run(compiled)
    assert sched.t == 7  # scheduler.step() calls, skipped steps included (like LambdaLR)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6)
