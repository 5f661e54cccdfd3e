"""The cross-framework scenarios with the Keras twin on the JAX and torch Keras backends
(``target="keras"``), each backend in its own process (``_xf_keras_backend_worker.py``: Keras
reads ``KERAS_BACKEND`` at import; JAX float64 needs ``jax_enable_x64`` before anything JAX runs).

One worker per backend runs every selected scenario in that one process (the imports are paid
once); each run trains torch and the Keras twin in lockstep with the harness' comparison loop,
at the harness' bounds (``xf_harness.bounds``): float64 ``err <= 1e-10 * moved + k * 2^-53 *
max|p|`` against the reference fed the target's own gradients and ``||p_keras - p_torch|| /
||p_torch|| <= 1e-10`` at every one of the 50 updates; float32 the suite's float32 bounds
(printed). The TensorFlow backend is covered in-process by ``test_xf_scenarios.py``.

Every float64 scenario runs on both backends; the float32 runs are chosen per backend to stay
in the time budget (:data:`FLOAT32_RUNS`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xf_harness as H

pytest.importorskip("keras")
pytest.importorskip("torch")

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_xf_keras_backend_worker.py"
FLOAT32_RUNS: dict[str, tuple[str, ...]] = {
    # the transformer twin (AdamW, layer decay 0.75 over 16 groups, warmup + cosine) through the
    # jitted stateless_apply with the exact build list, the JAX trainer's path
    "jax": ("float32:6-transformer_llrd",),
    # RMSprop momentum with a backbone frozen until update 20, through torch.optim's multi-tensor rules
    "torch": ("float32:7-gradual_unfreeze",),
}
"""The float32 runs per backend besides every float64 scenario (:func:`_runs`), chosen for the
time budget: the whole float64 set costs about 20 s of runs on torch and 60 s on JAX (a jitted
float64 model costs 2-15 s of XLA compile per twin) on the 2-core machine."""
BACKENDS = tuple(FLOAT32_RUNS)
_RESULTS: dict[str, dict[str, Any]] = {}


def _runs(backend: str) -> tuple[str, ...]:
    """Every float64 scenario, plus :data:`FLOAT32_RUNS` (with ``KERAS_XF_RUNS=all``: every
    float32 scenario too)."""
    f64 = tuple(f"float64:{s.id}" for s in H.F64_SCENARIOS)
    if os.environ.get("KERAS_XF_RUNS") == "all":
        return (*f64, *(f"float32:{s.id}" for s in H.SCENARIOS))
    return (*f64, *FLOAT32_RUNS[backend])


def _results(backend: str) -> dict[str, Any]:
    if backend not in _RESULTS:
        pytest.importorskip(backend)
        adapters = str(HERE.parents[1] / "adapters")
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join(p for p in (adapters, os.environ.get("PYTHONPATH", "")) if p),
        }
        proc = subprocess.run(
            [sys.executable, str(WORKER), *_runs(backend)],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
            cwd=HERE,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        assert proc.returncode == 0 and lines, proc.stderr[-3000:]
        _RESULTS[backend] = json.loads(lines[-1][len("RESULT ") :])
    return _RESULTS[backend]


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "run"), [(b, r) for b in BACKENDS for r in _runs(b)])
def test_keras_backend_scenario(backend: str, run: str, xf_record: Callable[[str], None]) -> None:
    results = _results(backend)
    assert results["backend"] == backend
    res = results["runs"].get(run)
    assert res is not None, f"{backend}: {run} did not run (selected: {sorted(results['runs'])})"
    assert "error" not in res, res.get("error")
    dtype, _, sid = run.partition(":")
    tag = f"{sid} {'f64' if dtype == 'float64' else 'f32'}"
    ref_tol, _, cross_tol = res["bounds"]
    lines = [
        f"{tag:<32} {label:<18} cross {st['cross']:.1e} (elementwise {st['elementwise']:.1e}, abs {st['abs']:.1e})"
        f"  ref {st['ref']:.1e} of moved, budget {st['budget']:.2f}  frozen checks {st['frozen_checked']}"
        for label, st in res["stats"].items()
    ]
    lines.append(
        f"{tag:<32} (keras on {backend}; model {res['model']}; bounds ref {ref_tol:g}, cross {cross_tol:g}; "
        f"{res['seconds']:.1f} s)"
    )
    for line in lines:
        xf_record(line)
    print("\n".join(lines))
    if dtype == "float64":
        assert (ref_tol, cross_tol) == (1e-10, 1e-10)
    failures = [f for st in res["stats"].values() for f in st["failures"]]
    assert not failures, "\n".join(failures[:20])
    assert set(res["stats"]) == {"torch", f"keras-{backend}"}
    # both targets resolved the spec to the same groups, settings and parameters
    assert res["same_groups"]
    if res["frozen"]:
        assert all(st["frozen_checked"] > 0 for st in res["stats"].values())
    # every target moved (the comparison is not vacuous)
    assert all(st["ref"] > 0 or st["budget"] > 0 for st in res["stats"].values())
