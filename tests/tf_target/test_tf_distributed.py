"""MirroredStrategy (two logical CPU devices, in a subprocess) matches the single-device run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

tf = pytest.importorskip("tensorflow")


def test_mirrored_strategy_matches_single_device() -> None:
    worker = Path(__file__).with_name("_lrspec_tf_mirrored_worker.py")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, str(worker)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["iterations"] == [12, 12]
    assert result["moved"] > 1e-3
    assert result["diff"] <= 1e-5 * max(1.0, result["moved"]), result
