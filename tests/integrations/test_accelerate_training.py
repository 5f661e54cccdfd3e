"""accelerate ``prepare`` (scheduler included) with gradient accumulation and clipping in one
process, vs a hand-written loop (``_accelerate_multiprocess_worker.hand_written``): stock Adam,
layer 0 ``requires_grad=False`` until update UNTIL then a fresh group, lr ``0.05 * (1 - t/10)``
written there, loss / 2 per micro-batch, ``clip_grad_norm_``. Two processes:
test_accelerate_multiprocess.py."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("accelerate")
import torch
from _accelerate_multiprocess_worker import ex, hand_written
from lrspec_torch.clock import LrSpecClockWarning

import lrspec


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
