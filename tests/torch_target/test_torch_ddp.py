"""Data parallel: two CPU ranks (gloo, torch.multiprocessing) vs one process on the full batch.

Spec (see _lrspec_torch_ddp_worker.SPEC): a permanent freeze, a freeze until update 6 and an lr
multiplier, Adam with coupled weight decay and an exponential schedule, float64. After 20
updates both ranks must be identical and equal the single-process run within 1e-9 relative.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import _lrspec_torch_ddp_worker  # noqa: E402

HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch built without torch.distributed")


def run_ranks(tmp_path: Path, mode: str) -> tuple[dict[str, object], dict[str, object]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "_lrspec_torch_ddp_worker.py"), str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return (
        torch.load(tmp_path / "rank0.pt", weights_only=True),
        torch.load(tmp_path / "rank1.pt", weights_only=True),
    )


def assert_matches_single(rank0: dict[str, torch.Tensor], rank1: dict[str, torch.Tensor]) -> None:
    single = _lrspec_torch_ddp_worker.single()
    initial = dict(_lrspec_torch_ddp_worker.build_model().named_parameters())
    assert set(rank0) == set(single) == set(rank1)
    for name, ref in single.items():
        assert torch.equal(rank0[name], rank1[name]), f"{name}: ranks differ"
        err = (rank0[name] - ref).abs().max().item()
        assert err <= 1e-9 * ref.abs().max().item(), f"{name}: {err:.3g} from the single-process run"
    # the permanent freeze held; the frozen-until and the multiplied groups trained
    for name in ("stem.weight", "stem.bias"):
        assert torch.equal(single[name], initial[name].detach())
    for name in ("body.weight", "head.weight"):
        assert not torch.equal(single[name], initial[name].detach())


def test_ddp_two_ranks_match_single_process(tmp_path: Path) -> None:
    r0, r1 = run_ranks(tmp_path, "ddp")
    assert_matches_single(r0["params"], r1["params"])  # type: ignore[arg-type]
    # the model was DDP-wrapped before compile: permanent freezes keep requires_grad, with a warning
    assert any("already wrapped in DDP" in w for w in r0["warnings"])  # type: ignore[union-attr]
    for rank in (0, 1):
        text = (tmp_path / f"error{rank}.txt").read_text()
        assert "skip_frozen_backward" in text and "DistributedDataParallel" in text


def test_fsdp2_two_ranks_match_single_process(tmp_path: Path) -> None:
    pytest.importorskip("torch.distributed.fsdp")
    from torch.distributed import fsdp

    if not hasattr(fsdp, "fully_shard"):
        pytest.skip("this torch has no FSDP2 fully_shard")
    r0, r1 = run_ranks(tmp_path, "fsdp")
    assert_matches_single(r0["params"], r1["params"])  # type: ignore[arg-type]
    assert not r0["warnings"]
    assert "skip_frozen_backward" in (tmp_path / "error0.txt").read_text()
