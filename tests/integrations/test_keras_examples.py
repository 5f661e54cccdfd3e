"""The Keras recipe of docs/integrations.md runs as written (examples/integrations/keras_fit.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf

ROOT = Path(__file__).resolve().parents[2]


def test_keras_fit_example_resumes_exactly() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "integrations" / "keras_fit.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "reloaded TorchAdamW at update 8" in proc.stdout
    assert "resumed in a fresh process vs uninterrupted" in proc.stdout
