"""Two CPU processes (gloo) under accelerate, with gradient accumulation, clipping and freeze-until;
used by test_accelerate_multiprocess.py.

Usage: python _accelerate_multiprocess_worker.py OUT_DIR. Each rank runs every scenario of
SCENARIOS in turn (float64) and saves ``{scenario: {"params", "t", "updates", "warnings"}}`` to
OUT_DIR/rank{r}.pt:

* ``documented``: examples/integrations/torch_accelerate.py's ``train`` as is
  (``split_batches=True``, the scheduler through ``prepare``);
* ``raw_on_sync``: ``split_batches=False`` (per-process batches of BATCH/2 rows, the same global
  batches), the raw scheduler stepped when ``accelerator.sync_gradients``;
* ``prepared_unsplit``: ``split_batches=False`` with the scheduler through ``prepare``: the
  ``AcceleratedScheduler`` steps it ``num_processes`` times per update (a misuse);
* ``raw_per_micro_batch``: the raw scheduler stepped after every micro-batch (a misuse).
"""

from __future__ import annotations

import os
import socket
import sys
import warnings
from typing import Any

import torch
import torch.multiprocessing as mp
from _torch_integration import load_example
from torch import nn
from torch.utils.data import DataLoader

import lrspec

ex = load_example("torch_accelerate")
WORLD = 2
EPOCHS = {"documented": 1, "raw_on_sync": 1, "prepared_unsplit": 4, "raw_per_micro_batch": 4}
SCENARIOS = tuple(EPOCHS)


def hand_written(updates: int, dtype: torch.dtype = torch.float32) -> nn.Module:
    """One process, the plain loop: stock Adam, layer 0 ``requires_grad=False`` until update UNTIL
    then a fresh param group, lr ``0.05 * (1 - t/10)`` written here, loss / ACCUMULATE per
    micro-batch of BATCH rows, ``clip_grad_norm_(CLIP)`` before each step."""
    model: nn.Sequential = ex.build(dtype)
    first = list(model[0].parameters())
    for p in first:
        p.requires_grad_(False)
    opt = torch.optim.Adam(model[2].parameters(), lr=0.05)
    x, y = ex.data(dtype).tensors
    for t in range(updates):
        if t == ex.UNTIL:
            for p in first:
                p.requires_grad_(True)
            opt.add_param_group({"params": first})
        for g in opt.param_groups:
            g["lr"] = 0.05 * max(0.0, 1 - t / 10)
        for k in range(ex.ACCUMULATE):
            i = ex.BATCH * (ex.ACCUMULATE * t + k)
            (nn.functional.mse_loss(model(x[i : i + ex.BATCH]), y[i : i + ex.BATCH]) / ex.ACCUMULATE).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), ex.CLIP)
        opt.step()
        opt.zero_grad()
    return model


def run(scenario: str) -> tuple[nn.Module, Any, int]:
    """One scenario other than ``documented``: (unwrapped model, lrspec scheduler, updates applied)."""
    from accelerate import Accelerator, DataLoaderConfiguration

    split = scenario != "raw_on_sync" and scenario != "prepared_unsplit"
    accelerator = Accelerator(
        gradient_accumulation_steps=ex.ACCUMULATE,
        cpu=True,
        dataloader_config=DataLoaderConfiguration(split_batches=split),
    )
    model = ex.build(torch.float64)
    c = lrspec.compile(ex.SPEC, model, target="torch")
    batch = ex.BATCH if split else ex.BATCH // accelerator.num_processes
    loader = DataLoader(ex.data(torch.float64), batch_size=batch, shuffle=False)
    if scenario == "prepared_unsplit":
        model, opt, loader, sched = accelerator.prepare(model, c.optimizer, loader, c.scheduler)
    else:
        model, opt, loader = accelerator.prepare(model, c.optimizer, loader)
        sched = c.scheduler
    for _ in range(EPOCHS[scenario]):
        for x, y in loader:
            with accelerator.accumulate(model):
                accelerator.backward(nn.functional.mse_loss(model(x), y))
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), ex.CLIP)
                opt.step()
                if scenario != "raw_on_sync" or accelerator.sync_gradients:
                    sched.step()
                opt.zero_grad()
    unwrapped: nn.Module = accelerator.unwrap_model(model)
    return unwrapped, c.scheduler, c.scheduler.clock.updates


def worker(rank: int, out_dir: str, port: int) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_WORLD_SIZE=str(WORLD),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    results: dict[str, Any] = {}
    for scenario in SCENARIOS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if scenario == "documented":
                model, t, updates = ex.train(EPOCHS[scenario], torch.float64), -1, -1
            else:
                model, sched, updates = run(scenario)
                t = sched.t
        results[scenario] = {
            "params": {k: v.detach().clone() for k, v in model.named_parameters()},
            "t": t,
            "updates": updates,
            "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
        }
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    # fork: the children inherit the imports (torch, accelerate, lrspec) instead of repeating them
    mp.start_processes(  # type: ignore[attr-defined,no-untyped-call]
        worker, args=(sys.argv[1], free_port()), nprocs=WORLD, start_method="fork"
    )
