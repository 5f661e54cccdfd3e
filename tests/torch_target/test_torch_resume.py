"""Saving optimizer + scheduler state mid-run and resuming in a new process is bitwise exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import _lrspec_torch_resume_worker as worker  # noqa: E402

HERE = Path(__file__).parent


def run(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(HERE / "_lrspec_torch_resume_worker.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_resume_in_a_new_process_is_bitwise_exact(tmp_path: Path) -> None:
    ckpt, out = tmp_path / "ckpt.pt", tmp_path / "final.pt"
    run("first", str(ckpt))
    run("second", str(ckpt), str(out))
    resumed = torch.load(out, weights_only=True)

    model, compiled = worker.build()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    worker.train(model, compiled, range(worker.STEPS))
    full = model.state_dict()
    assert set(full) == set(resumed)
    for name, value in full.items():
        assert torch.equal(value, resumed[name]), name
    # the run exercised what it claims: the stem stayed frozen, the late layer unfroze after the split
    assert torch.equal(full["0.weight"], initial["0.weight"])
    saved = torch.load(ckpt, weights_only=True)
    assert torch.equal(saved["model"]["2.weight"], initial["2.weight"])
    assert not torch.equal(full["2.weight"], initial["2.weight"])
    assert saved["scheduler"]["t"] == worker.SPLIT
