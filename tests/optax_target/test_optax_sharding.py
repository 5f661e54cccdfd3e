"""Sharded parameters across 2 CPU devices (in a subprocess: the device count is fixed at jax import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("optax")

ROOT = Path(__file__).resolve().parents[2]


def test_sharded_updates_equal_unsharded_and_reference() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.optax_target.sharding_worker"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["devices"] == 2
    assert r["auto_native"] and not r["lrspec_native"]
    for mode in ("auto", "lrspec"):
        assert r[f"{mode}_sharding_kept"], r
        assert r[f"{mode}_max_diff_sharded_vs_unsharded"] <= 1e-6, r
        assert r[f"{mode}_max_rel_vs_reference"] <= 1e-5, r
        assert r[f"{mode}_frozen_exact"], r
