"""DDP (gloo, 2 ranks) with freeze-until, a permanent freeze and clip_grad_norm_: both ranks equal
and equal to one process with ``requires_grad=False`` on the frozen layers (see the worker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import _torch_ddp_clip_worker as worker  # noqa: E402

HERE = Path(__file__).parent
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not dist.is_available(), reason="no torch.distributed")]


@pytest.mark.parametrize("mode", ["before", "after"])
def test_ddp_clipping_ignores_frozen_gradients(tmp_path: Path, mode: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(HERE / "_torch_ddp_clip_worker.py"), str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    ref = worker.hand_written()
    for name, want in ref.items():
        assert torch.equal(r0[name], r1[name]), name
        assert torch.allclose(r0[name], want, rtol=0, atol=1e-12), name
