"""Two-rank CPU (gloo) data-parallel run of a compiled spec, used by test_torch_ddp.py.

Usage: python _lrspec_torch_ddp_worker.py OUT_DIR MODE   (MODE: ddp | fsdp)

``ddp``: each of 2 ranks wraps the same model in DistributedDataParallel, compiles the spec
for the wrapped model and trains 20 updates on its half of a fixed batch; each rank saves
its final parameters to OUT_DIR/rank{r}.pt. Before that, each rank tries to compile with
``skip_frozen_backward=True``, which must raise lrspec.TargetError (the message is saved to
OUT_DIR/error{r}.txt). ``fsdp``: the same with FSDP2 ``fully_shard`` (FSDP1 needs an
accelerator). :func:`single` is the one-process, full-batch run to compare with.
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

import lrspec

STEPS = 20
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.01, "weight_decay": 0.01},
    "schedule": {"type": "exponential", "decay_rate": 0.9, "decay_steps": 5},
    "groups": [
        {"name": "stem", "params": ["stem.*"], "freeze": True},
        {"name": "body", "params": ["body.*"], "freeze": {"until_step": 6}},
        {"name": "head", "params": ["head.*"], "lr_mult": 5.0},
    ],
}


def build_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("stem", nn.Linear(6, 8))
    model.add_module("act1", nn.Tanh())
    model.add_module("body", nn.Linear(8, 8))
    model.add_module("act2", nn.Tanh())
    model.add_module("head", nn.Linear(8, 3))
    return model.double()


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, 8, 6, generator=g, dtype=torch.float64)
    y = torch.randn(STEPS, 8, 3, generator=g, dtype=torch.float64)
    return x, y


def train(model: nn.Module, compiled: Any, x: torch.Tensor, y: torch.Tensor) -> None:
    for t in range(STEPS):
        loss = ((model(x[t]) - y[t]) ** 2).mean()
        loss.backward()
        compiled.optimizer.step()
        compiled.scheduler.step()
        compiled.optimizer.zero_grad()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        k.replace("module.", "").replace("_fsdp_wrapped_module.", ""): v.detach().clone()
        for k, v in model.named_parameters()
    }


def worker(rank: int, out_dir: str, mode: str) -> None:
    # a file store: no TCP port to race for with other processes on the machine
    store = os.path.join(out_dir, "store")
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        model = build_model()
        x, y = batch()
        half = slice(rank * 4, rank * 4 + 4)
        if mode == "fsdp":
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            mesh = init_device_mesh("cpu", (2,))
            for name in ("stem", "body", "head"):
                fully_shard(getattr(model, name), mesh=mesh)
            wrapped: nn.Module = fully_shard(model, mesh=mesh)
        else:
            wrapped = nn.parallel.DistributedDataParallel(model)
        try:  # refused: DDP would never all-reduce the parameters unfrozen later
            lrspec.compile(SPEC, wrapped, target="torch", skip_frozen_backward=True)
        except lrspec.TargetError as exc:
            with open(os.path.join(out_dir, f"error{rank}.txt"), "w") as f:
                f.write(str(exc))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compiled = lrspec.compile(SPEC, wrapped, target="torch")
        train(wrapped, compiled, x[:, half], y[:, half])
        if mode == "fsdp":
            out = {k: v.full_tensor().detach().clone() for k, v in wrapped.named_parameters()}  # type: ignore[operator]
        else:
            out = snapshot(wrapped)
        messages = [str(w.message) for w in caught]
        torch.save({"params": out, "warnings": messages}, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def single() -> dict[str, torch.Tensor]:
    """Final parameters of the one-process run on the full batch."""
    model = build_model()
    x, y = batch()
    compiled = lrspec.compile(SPEC, model, target="torch")
    train(model, compiled, x, y)
    return snapshot(model)


if __name__ == "__main__":
    out_dir, mode = sys.argv[1], sys.argv[2]
    mp.spawn(worker, args=(out_dir, mode), nprocs=2, join=True)
