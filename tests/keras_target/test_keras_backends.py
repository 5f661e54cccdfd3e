"""The ``keras`` target on the JAX and torch Keras backends, each in its own process
(``KERAS_BACKEND`` is read at import; the TensorFlow backend runs in-process in tests/tf_target
and tests/integrations). One worker per backend (``_keras_backend_worker.py``) runs every
scenario once; each test checks one scenario's outcome.

Chosen per backend (to stay in the time budget): every family and variant of the reference
matrix with schedules constant and warmup-cosine and every freeze kind, 40 updates (on JAX
through the jitted ``stateless_apply`` of its trainer), the same in float64 at 1e-10 (JAX with
``jax_enable_x64``), fit vs an ``apply_gradients`` loop, ``.keras`` save/load/continue for the
four model kinds, LR callbacks, ``native=True``, on JAX ``DataParallel`` over 2 CPU devices, and
the issue-14 families in float32 and float64 (15 updates; muon with a float32 / float64 Newton-Schulz), and the
``.keras`` files of the old ``lrspec_tf`` optimizers (written on TensorFlow) loading and continuing,
and every schedule kind against lrspec's definition (eager; jitted on JAX). On JAX the float32
matrix and families run without ``jax_enable_x64`` (JAX's default, where every scalar
coefficient is float32; a second worker with the schedules too, about 25 s), the float64 ones
in the x64 worker.
On torch every scenario runs through torch.optim's multi-tensor rules where they cover the family.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

WORKER = Path(__file__).with_name("_keras_backend_worker.py")
SCENARIOS = ("matrix", "fit_save_load", "callbacks", "native", "data_parallel", "float64", "families", "legacy_files",
             "schedules")
RUNS: dict[str, tuple[str, tuple[str, ...]]] = {
    # selecting float64 makes the worker set jax_enable_x64; the float32 matrix and families run
    # in jax-no-x64 (JAX's default), so not twice
    "jax": ("jax", tuple(s for s in SCENARIOS if s != "matrix")),
    "torch": ("torch", SCENARIOS),
    # JAX's default (no x64: every scalar in float32), where float32 must stay at roundoff
    "jax-no-x64": ("jax", ("matrix", "families", "schedules")),
}
"""Worker runs: name -> (Keras backend, scenarios)."""
_RESULTS: dict[str, dict[str, str]] = {}


def _results(run: str) -> dict[str, str]:
    if run not in _RESULTS:
        backend, scenarios = RUNS[run]
        pytest.importorskip(backend)
        adapters = str(Path(__file__).resolve().parents[2] / "adapters")
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2",
               "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
               "PYTHONPATH": os.pathsep.join(p for p in (adapters, os.environ.get("PYTHONPATH", "")) if p)}
        proc = subprocess.run([sys.executable, str(WORKER), *scenarios], capture_output=True, text=True, timeout=600,
                              env=env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        assert proc.returncode == 0 and lines, proc.stderr[-3000:]
        _RESULTS[run] = json.loads(lines[-1][len("RESULT "):])
    return _RESULTS[run]


@pytest.mark.slow
@pytest.mark.parametrize(("run", "scenario"), [(r, s) for r, (_, scenarios) in RUNS.items() for s in scenarios])
def test_keras_target_on_backend(run: str, scenario: str) -> None:
    outcome = _results(run).get(scenario)
    assert outcome == "ok", f"{run} / {scenario}:\n{outcome}"
