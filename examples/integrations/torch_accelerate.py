"""lrspec with accelerate: ``prepare`` the model, optimizer, data and the scheduler, with gradient
accumulation and clipping.

    python examples/integrations/torch_accelerate.py

``accelerator.prepare(scheduler)`` wraps lrspec's scheduler in an ``AcceleratedScheduler``, which
steps it only when the optimizer really stepped (not on accumulation micro-batches, not when
GradScaler skipped). With several processes it steps ``num_processes`` times per update unless
``Accelerator(split_batches=True)``: use ``split_batches=True`` there, or do not prepare the
scheduler and call ``scheduler.step()`` yourself when ``accelerator.sync_gradients``. Stepping the
raw scheduler per micro-batch advances ``t`` per micro-batch; lrspec warns about both.
"""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrspec

ACCUMULATE, UNTIL, CLIP = 2, 2, 0.1
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.05},
    "schedule": {"type": "linear", "start_mult": 1.0, "end_mult": 0.0, "steps": 10},
    "groups": [{"name": "body", "params": ["0.*"], "freeze": {"until_step": UNTIL}}],
}


def build() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def data() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(32, 3, generator=g), torch.randn(32, 1, generator=g))


def train(epochs: int = 1) -> nn.Module:
    accelerator = Accelerator(gradient_accumulation_steps=ACCUMULATE, cpu=True)
    model = build()
    compiled = lrspec.compile(SPEC, model, target="torch")
    loader = DataLoader(data(), batch_size=4, shuffle=False)
    model, opt, loader, sched = accelerator.prepare(model, compiled.optimizer, loader, compiled.scheduler)
    for _ in range(epochs):
        for x, y in loader:
            with accelerator.accumulate(model):
                accelerator.backward(nn.functional.mse_loss(model(x), y))
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), CLIP)
                opt.step()
                sched.step()
                opt.zero_grad()
    return accelerator.unwrap_model(model)


if __name__ == "__main__":
    print(dict(train().named_parameters()))
