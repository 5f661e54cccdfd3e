"""lrspec with accelerate: ``prepare`` the model, optimizer, data and the scheduler, with gradient
accumulation and clipping; the same code runs in one process or several
(``accelerate launch --cpu --num_processes 2 examples/integrations/torch_accelerate.py``; where
timm is installed without torchvision, as in lrspec's dev environment, the ``accelerate`` command
fails importing timm: use ``python -m accelerate.commands.launch`` with the same arguments).

    python examples/integrations/torch_accelerate.py

``accelerator.prepare(scheduler)`` wraps lrspec's scheduler in an ``AcceleratedScheduler``, which
steps it only when the optimizer really stepped (not on accumulation micro-batches, not when
GradScaler skipped). Without ``split_batches`` it steps ``num_processes`` times per update (it
assumes a schedule written in single-process batches), but lrspec's ``t`` counts updates: so use
``DataLoaderConfiguration(split_batches=True)`` as here (the loader's batch size is the global
batch, split across processes, and the run equals the single-process one), or do not prepare the
scheduler and call ``compiled.scheduler.step()`` yourself when ``accelerator.sync_gradients``.
Stepping the raw scheduler per micro-batch advances ``t`` per micro-batch; lrspec warns about both
misuses (``LrSpecClockWarning``).
"""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrspec

ACCUMULATE, UNTIL, CLIP, BATCH = 2, 2, 0.1, 4
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.05},
    "schedule": {"type": "linear", "start_mult": 1.0, "end_mult": 0.0, "steps": 10},
    "groups": [{"name": "body", "params": ["0.*"], "freeze": {"until_step": UNTIL}}],
}


def build(dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).to(dtype)


def data(dtype: torch.dtype = torch.float32) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(32, 3, generator=g).to(dtype), torch.randn(32, 1, generator=g).to(dtype))


def train(epochs: int = 1, dtype: torch.dtype = torch.float32) -> nn.Module:
    """``epochs`` passes over ``data()`` in global batches of ``BATCH`` rows (split across the
    processes), one update per ``ACCUMULATE`` batches, gradients clipped to norm ``CLIP``."""
    accelerator = Accelerator(
        gradient_accumulation_steps=ACCUMULATE, cpu=True, dataloader_config=DataLoaderConfiguration(split_batches=True)
    )
    model = build(dtype)
    compiled = lrspec.compile(SPEC, model, target="torch")
    loader = DataLoader(data(dtype), batch_size=BATCH, shuffle=False)
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
    unwrapped: nn.Module = accelerator.unwrap_model(model)
    return unwrapped


if __name__ == "__main__":
    print(dict(train().named_parameters()))
