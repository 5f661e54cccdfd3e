"""Two gloo ranks: DDP with a freeze-until layer, a permanently frozen layer of an already-wrapped
model, and gradient clipping; used by test_torch_ddp_clipping.py.

Usage: python _torch_ddp_clip_worker.py OUT_DIR MODE   (MODE: before | after: compile before or
after wrapping in DDP). Each rank saves its final parameters to OUT_DIR/rank{r}.pt.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import lrspec

STEPS, UNTIL, CLIP = 8, 3, 0.05
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
    "groups": [
        {"name": "stem", "params": ["0.*"], "freeze": True},
        {"name": "body", "params": ["2.*"], "freeze": {"until_step": UNTIL}},
    ],
}


def build() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)).double()


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(STEPS, 8, 3, generator=g, dtype=torch.float64), torch.randn(
        STEPS, 8, 1, generator=g, dtype=torch.float64
    )


def hand_written() -> dict[str, torch.Tensor]:
    """One process, full batch: requires_grad=False for the frozen layers, stock SGD, clipping."""
    model = build()
    x, y = data()
    for p in [*model[0].parameters(), *model[2].parameters()]:
        p.requires_grad_(False)
    opt = torch.optim.SGD(model[4].parameters(), lr=0.1, momentum=0.9)
    for t in range(STEPS):
        if t == UNTIL:
            for p in model[2].parameters():
                p.requires_grad_(True)
            opt.add_param_group({"params": list(model[2].parameters())})
        ((model(x[t]) - y[t]) ** 2).mean().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        opt.zero_grad()
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def worker(rank: int, out_dir: str, mode: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{os.path.join(out_dir, 'store')}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        model = build()
        if mode == "before":
            c = lrspec.compile(SPEC, model, target="torch")
            ddp = DDP(model)
        else:
            ddp = DDP(model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = lrspec.compile(SPEC, ddp, target="torch")
        x, y = data()
        half = slice(4 * rank, 4 * rank + 4)
        for _t in range(STEPS):
            ((ddp(x[_t][half]) - y[_t][half]) ** 2).mean().backward()
            torch.nn.utils.clip_grad_norm_(ddp.parameters(), CLIP)
            c.optimizer.step()
            c.scheduler.step()
            c.optimizer.zero_grad()
        torch.save(
            {k: v.detach().clone() for k, v in model.named_parameters()}, os.path.join(out_dir, f"rank{rank}.pt")
        )
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    # fork: the children inherit the imports (torch, lrspec) instead of repeating them
    mp.start_processes(  # type: ignore[attr-defined,no-untyped-call]
        worker, args=(sys.argv[1], sys.argv[2]), nprocs=2, start_method="fork"
    )
