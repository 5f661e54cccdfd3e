"""Every family x option of the optax target against lrspec.reference (float64 and float32),
each dtype in one subprocess (tests/optax_target/matrix.py) so jax_enable_x64 never leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("optax")

from tests.optax_target.matrix import CASES, NEW_CASES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    """Both subprocesses, started together (they run in parallel), parsed when both finished."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    procs = {
        which: subprocess.Popen(
            [sys.executable, "-m", "tests.optax_target.matrix", which],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for which in ("x64", "x32")
    }
    out: dict[str, Any] = {}
    for which, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        out[which] = json.loads(stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def x64(runs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = runs["x64"]
    return result


@pytest.fixture(scope="module")
def x32(runs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = runs["x32"]
    return result


IDS = [f"{c}/{v}/auto" for c in CASES for v in ("plain", "freeze")]


@pytest.mark.parametrize("case", IDS)
def test_float64_matches_reference(x64: dict[str, Any], case: str) -> None:
    r = x64[case]
    assert r["dtype"] == "float64"
    assert r["rel"] <= 1e-12, r
    assert r["frozen_exact"]


@pytest.mark.parametrize("case", IDS)
def test_float32_matches_reference(x32: dict[str, Any], case: str) -> None:
    r = x32[case]
    assert r["dtype"] == "float32"
    # the issue-14 families at 1e-4: RAdam's rectification term and Adafactor's RMS scaling
    # are computed from float32 scalars here (torch: Python floats), see docs/optax.md
    assert r["rel"] <= (1e-4 if case.split("/")[0] in NEW_CASES else 1e-5), r
    assert r["frozen_exact"]


def test_new_families_run_lrspec_rule_per_group_family(x64: dict[str, Any]) -> None:
    """The issue-14 families have no torch-exact optax transform; muon cases mix muon (2-D
    leaves) and adamw (the rest) in one transformation."""
    for case in NEW_CASES:
        r = x64[f"{case}/plain/auto"]
        assert not r["native"], (case, r)
        if case.startswith("muon"):
            assert r["families"] == ["muon", "adamw"] or sorted(r["families"]) == ["adamw", "muon"], r


def test_both_implementations_are_exercised(x64: dict[str, Any]) -> None:
    """optax's transforms carry the plain plans where exact, lrspec's rule the rest; each
    optax-native case also runs with mode='lrspec' and matches the reference."""
    native = {k.split("/")[0] for k, v in x64.items() if k.endswith("/plain/auto") and v["native"]}
    assert native == {
        "sgd",
        "sgd-momentum",
        "sgd-nesterov",
        "adam",
        "adam-betas-eps",
        "adamw",
        "rmsprop",
        "rmsprop-momentum",
        "rmsprop-centered",
        "rmsprop-all",
    }
    assert not any(v["native"] for k, v in x64.items() if "/freeze/" in k)
    for case in native:
        r = x64[f"{case}/plain/lrspec"]
        assert not r["native"] and r["rel"] <= 1e-12, (case, r)


def test_schedules_float64_match_lrspec_schedules_up_to_1e9(x64: dict[str, Any]) -> None:
    errors = x64["__schedules__"]
    assert len(errors) >= 14
    bad = {k: v for k, v in errors.items() if not v <= 1e-12}
    assert not bad
