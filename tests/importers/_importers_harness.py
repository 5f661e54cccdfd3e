"""Shared by the importer tests: run the tool's own optimizer and scheduler next to the
imported spec compiled for torch, on twin float64 models, and compare every parameter's lr
and weight decay at every step and the parameters after training."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import lrspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integrations"))
from _torch_integration import torchvision_for_timm

__all__ = ["run_side_by_side", "torchvision_for_timm", "lr_wd"]


def lr_wd(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, tuple[float, float]]:
    """Each trained parameter's (lr, weight_decay) in ``optimizer`` right now, by name."""
    names = {id(p): n for n, p in model.named_parameters()}
    out: dict[str, tuple[float, float]] = {}
    for g in optimizer.param_groups:
        for p in g["params"]:
            out[names[id(p)]] = (float(g["lr"]), float(g["weight_decay"]))
    return out


def run_side_by_side(
    model: torch.nn.Module,
    tool: Callable[[torch.nn.Module], tuple[torch.optim.Optimizer, Callable[[int], None]]],
    spec: Any,
    steps: int,
    train_steps: int = 5,
) -> list[dict[str, tuple[float, float]]]:
    """Train ``model`` (float64) with the tool's optimizer (``tool(model)`` -> optimizer and the
    hook called after update k) and a twin with ``spec`` compiled for torch; assert equal lr and
    weight decay of every parameter at every one of ``steps`` updates and equal parameters
    after ``train_steps`` updates (gradients only for those). Returns the tool's lrs per step."""
    model = model.double()
    twin = copy.deepcopy(model)
    optimizer, after = tool(model)
    compiled = lrspec.compile(spec, twin, target="torch", fused=False, foreach=True)  # CPU fused kernels are slow here
    gen = torch.Generator().manual_seed(0)
    seen = []
    for k in range(steps):
        want, got = lr_wd(optimizer, model), lr_wd(compiled.optimizer, twin)
        # the tool's lr-0 parameters are never updated; lrspec freezes them (no update either)
        want = {n: v for n, v in want.items() if n in got or v[0] != 0.0}
        assert set(want) == set(got), f"step {k}: trained parameters differ: {set(want) ^ set(got)}"
        for n, (lr, wd) in want.items():
            assert got[n][0] == pytest_approx(lr), f"step {k}: lr of {n}: lrspec {got[n][0]!r}, tool {lr!r}"
            assert got[n][1] == pytest_approx(wd), f"step {k}: weight_decay of {n}: lrspec {got[n][1]!r}, tool {wd!r}"
        seen.append(want)
        for (_, p), (_, q) in zip(model.named_parameters(), twin.named_parameters()):
            if k < train_steps:
                g = torch.randn(p.shape, generator=gen, dtype=p.dtype)
                p.grad, q.grad = g.clone(), g.clone()
            else:
                p.grad = q.grad = None
        optimizer.step()
        compiled.optimizer.step()
        after(k)
        compiled.scheduler.step()
        if k + 1 == train_steps:
            for (n, p), (_, q) in zip(model.named_parameters(), twin.named_parameters()):
                torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14, msg=lambda m, n=n: f"{n}: {m}")
    return seen


def pytest_approx(x: float) -> Any:
    import pytest

    return pytest.approx(x, rel=1e-12, abs=0.0)
