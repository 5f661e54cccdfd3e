"""tf-v1 under tf.compat.v1.disable_eager_execution() (in its own process, as a real TF1 script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")


def test_v1_target_with_eager_disabled_matches_reference() -> None:
    worker = Path(__file__).with_name("_lrspec_tf_graph_mode_worker.py")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, str(worker)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["executing_eagerly"] is False
    assert result["global_step"] == 20  # incremented once per train op
    assert result["worst_rel_to_moved"] <= 1e-4, result
    assert result["stem_unchanged"] and result["body_unchanged_before_7"] and result["body_moved_after"]
    assert sorted(result["trainable"]) == ["body/w:0", "head/b:0", "head/w:0"]  # stem never differentiated
