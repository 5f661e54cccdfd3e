"""accelerate with 2 CPU processes (gloo), gradient accumulation, clipping and freeze-until.

The documented uses (examples/integrations/torch_accelerate.py: ``split_batches=True`` with the
scheduler through ``prepare``; or ``split_batches=False`` with the raw scheduler stepped when
``accelerator.sync_gradients``) equal the single-process plain loop with stock Adam and
``requires_grad=False`` (the worker's ``hand_written``) to float64 roundoff, on both ranks. The
misuses (``AcceleratedScheduler`` without ``split_batches``, which steps ``num_processes`` times per
update; the raw scheduler per micro-batch) raise lrspec's clock-drift warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import _accelerate_multiprocess_worker as worker  # noqa: E402

HERE = Path(__file__).parent
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not dist.is_available(), reason="no torch.distributed")]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("accelerate_2proc")
    proc = subprocess.run(
        [sys.executable, str(HERE / "_accelerate_multiprocess_worker.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(worker.WORLD)]


def clock_warnings(result: dict[str, Any]) -> list[str]:
    return [w for w in result["warnings"] if w.startswith("LrSpecClockWarning")]


@pytest.mark.parametrize("scenario", ["documented", "raw_on_sync"])
def test_documented_use_equals_single_process_loop(ranks: list[dict[str, Any]], scenario: str) -> None:
    updates = len(worker.ex.data()) // (worker.ex.BATCH * worker.ex.ACCUMULATE)  # 4, freeze ends at 2
    ref = dict(worker.hand_written(updates, torch.float64).named_parameters())
    for r in ranks:
        assert clock_warnings(r[scenario]) == []
        for name, want in ref.items():
            assert torch.equal(r[scenario]["params"][name], ranks[0][scenario]["params"][name]), name
            assert torch.allclose(r[scenario]["params"][name], want, rtol=0, atol=1e-12), name
    if scenario == "raw_on_sync":
        assert ranks[0][scenario]["t"] == ranks[0][scenario]["updates"] == updates


def test_prepared_scheduler_without_split_batches_steps_per_process_and_warns(ranks: list[dict[str, Any]]) -> None:
    for r in ranks:
        res = r["prepared_unsplit"]
        assert res["updates"] == 16 and res["t"] == worker.WORLD * res["updates"]
        (msg,) = clock_warnings(res)
        assert "lrspec" in msg and "split_batches=True" in msg


def test_raw_scheduler_per_micro_batch_warns(ranks: list[dict[str, Any]]) -> None:
    for r in ranks:
        res = r["raw_per_micro_batch"]
        assert res["t"] == worker.ex.ACCUMULATE * res["updates"]
        (msg,) = clock_warnings(res)
        assert "per micro-batch" in msg
