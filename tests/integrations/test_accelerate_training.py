"""accelerate ``prepare`` (scheduler included) with gradient accumulation and clipping, vs a
hand-written loop: stock Adam, layer 0 ``requires_grad=False`` until update UNTIL then a fresh
group, lr ``0.05 * (1 - t/10)`` written here, loss / 2 per micro-batch, ``clip_grad_norm_``."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("accelerate")
import torch
from _torch_integration import load_example
from lrspec_torch.clock import LrSpecClockWarning

import lrspec

ex = load_example("torch_accelerate")


def hand_written(updates: int) -> torch.nn.Module:
    model = ex.build()
    first = list(model[0].parameters())
    for p in first:
        p.requires_grad_(False)
    opt = torch.optim.Adam(model[2].parameters(), lr=0.05)
    x, y = ex.data().tensors
    for t in range(updates):
        if t == ex.UNTIL:
            for p in first:
                p.requires_grad_(True)
            opt.add_param_group({"params": first})
        for g in opt.param_groups:
            g["lr"] = 0.05 * max(0.0, 1 - t / 10)
        for k in range(2):
            b = slice(8 * t + 4 * k, 8 * t + 4 * k + 4)
            (torch.nn.functional.mse_loss(model(x[b]), y[b]) / 2).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), ex.CLIP)
        opt.step()
        opt.zero_grad()
    return model


def test_prepared_scheduler_with_accumulation_matches_hand_written() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", LrSpecClockWarning)
        model = ex.train()
    for p, q in zip(model.parameters(), hand_written(4).parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6)


def test_raw_scheduler_stepped_per_micro_batch_warns() -> None:
    from accelerate import Accelerator

    accelerator = Accelerator(gradient_accumulation_steps=2, cpu=True)
    model = ex.build()
    c = lrspec.compile(ex.SPEC, model, target="torch")
    model, opt = accelerator.prepare(model, c.optimizer)
    x, y = ex.data().tensors
    with pytest.warns(LrSpecClockWarning, match="lrspec.*micro-batch"):
        for _ in range(6):
            for i in range(0, 32, 4):
                with accelerator.accumulate(model):
                    accelerator.backward(torch.nn.functional.mse_loss(model(x[i : i + 4]), y[i : i + 4]))
                    opt.step()
                    c.scheduler.step()  # wrong: the raw scheduler, per micro-batch
                    opt.zero_grad()
