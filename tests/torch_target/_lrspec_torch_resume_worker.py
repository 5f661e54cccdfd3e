"""Checkpoint/resume worker for test_torch_resume.py.

``python _lrspec_torch_resume_worker.py first CKPT``: train updates 0..SPLIT-1, save model, optimizer and
scheduler state to CKPT. ``python _lrspec_torch_resume_worker.py second CKPT OUT``: in a fresh process,
build and compile again, load the checkpoint (optimizer first, then scheduler, as torch
recommends), train updates SPLIT..STEPS-1 and save the final parameters to OUT.
:func:`train` with ``range(STEPS)`` is the uninterrupted run.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import nn

import lrspec

STEPS, SPLIT = 30, 12
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05, "amsgrad": True},
    "schedule": {"type": "warmup", "steps": 5, "then": {"type": "cosine", "decay_steps": 25, "min_mult": 0.1}},
    "groups": [
        {"name": "stem", "params": ["0.*"], "freeze": True},
        {"name": "late", "params": ["2.*"], "freeze": {"until_step": 16}},
        {"name": "head", "params": ["4.*"], "lr_mult": 4.0, "betas": [0.8, 0.99]},
    ],
}


def build() -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 2))
    return model, lrspec.compile(SPEC, model, target="torch")


def train(model: nn.Module, compiled: Any, steps: range) -> None:
    for t in steps:
        g = torch.Generator().manual_seed(1000 + t)
        x, y = torch.randn(8, 5, generator=g), torch.randn(8, 2, generator=g)
        ((model(x) - y) ** 2).mean().backward()
        compiled.optimizer.step()
        compiled.scheduler.step()
        compiled.optimizer.zero_grad()


def main(argv: list[str]) -> None:
    model, compiled = build()
    if argv[0] == "first":
        train(model, compiled, range(SPLIT))
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": compiled.optimizer.state_dict(),
                "scheduler": compiled.scheduler.state_dict(),
            },
            argv[1],
        )
    else:
        ckpt = torch.load(argv[1], weights_only=True)
        model.load_state_dict(ckpt["model"])
        compiled.optimizer.load_state_dict(ckpt["optimizer"])
        compiled.scheduler.load_state_dict(ckpt["scheduler"])
        train(model, compiled, range(SPLIT, STEPS))
        torch.save(model.state_dict(), argv[2])


if __name__ == "__main__":
    main(sys.argv[1:])
