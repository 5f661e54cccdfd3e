"""Runs cross-framework scenarios with the Keras twin under the backend in ``KERAS_BACKEND``
(``jax`` or ``torch``; one process per backend, since Keras reads it at import) and prints one
line ``RESULT {json}``: per run ``"<dtype>:<scenario id>"`` the measured maxima per target, the
failures and whether the plans match torch's.

Each run trains torch (:class:`xf_runners.TorchRunner`) and the Keras twin with
``target="keras"`` on this backend (:class:`BackendKerasRunner`) in lockstep with the harness'
comparison loop (``xf_harness._lockstep``: every update against the float64 reference fed that
target's own gradients, against torch norm-relative, frozen parameters bitwise) at the
harness' bounds for the dtype (``xf_harness.bounds``).

Usage: ``KERAS_BACKEND=jax python _xf_keras_backend_worker.py float64:8-muon_adamw float32:4-...``
(arguments select runs; ``float64:all`` = every ``xf_harness.F64_SCENARIOS``). On JAX,
``jax_enable_x64`` is set before Keras is imported (float64 otherwise silently becomes
float32); float32 runs in the same process then have float32 models and gradients and float64
scalar coefficients (lr, bias corrections).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
BACKEND = os.environ.get("KERAS_BACKEND", "")
if BACKEND == "jax":
    import jax

    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]

import keras  # noqa: E402
import numpy as np  # noqa: E402
import xf_harness as H  # noqa: E402
import xf_twins as X  # noqa: E402
from keras import ops  # noqa: E402
from xf_runners import Runner, TorchRunner, keras_floatx  # noqa: E402

import lrspec  # noqa: E402


@contextlib.contextmanager
def keras_keeps_float64() -> Iterator[None]:
    """Inside, Keras's type promotion keeps float64 (test-side fix of the twin's forward pass).

    Keras 3.15's ``dtypes.result_type`` turns float64 into float32 on every backend but
    TensorFlow (``BIT64_TO_BIT32_DTYPE``, "aligned with JAX's default"), so ops that promote
    through it (``ops.mean``: ``GlobalAveragePooling1D``, ``LayerNormalization``) compute a
    float64 model at float32 precision and return float64: the transformer twin's gradients
    differed from torch's by 4e-7 while the optimizer matched the reference fed them to 7e-13.
    Used around the model's forward pass only (on JAX while it is traced), never around the
    optimizer, whose float64 exactness is what the runs check."""
    from keras.src.backend.common import dtypes

    table = dtypes.BIT64_TO_BIT32_DTYPE
    before = table.get("float64")
    table["float64"] = "float64"
    try:
        yield
    finally:
        if before is None:
            table.pop("float64", None)
        else:
            table["float64"] = before


_MODELS: dict[tuple[str, str], tuple[Any, Any]] = {}


def _model_and_grad_fn(twin: X.Twin, dtype: str) -> tuple[Any, Any]:
    """The Keras twin (built under ``floatx == dtype``) and its gradient function, per twin and
    dtype (weights are re-assigned per scenario; on JAX the gradient is jitted once per model).
    The gradient function maps (trainable values, x, y) to d loss / d trainable values."""
    if (twin.name, dtype) not in _MODELS:
        with keras_floatx(dtype):
            model = twin.keras_builder(seed=None)
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # its dtype: floatx
        if BACKEND == "jax":
            ntv = [v.value for v in model.non_trainable_variables]

            def loss(tv: list[Any], x: Any, y: Any) -> Any:
                with keras_keeps_float64():
                    out, _ = model.stateless_call(tv, ntv, x, training=True)
                    return loss_fn(y, out)

            grad_fn: Any = jax.jit(jax.grad(loss))
        else:
            import torch

            def grad_fn(tv: list[Any], x: Any, y: Any) -> Any:
                with keras_keeps_float64():
                    value = loss_fn(y, model(x, training=True))
                return list(torch.autograd.grad(value, tv))

        _MODELS[twin.name, dtype] = (model, grad_fn)
    return _MODELS[twin.name, dtype]


class BackendKerasRunner(Runner):
    """The Keras twin with ``target="keras"`` on this process's backend. JAX: the trainer's path,
    ``optimizer.stateless_apply`` jitted (with every variable the optimizer was built with,
    frozen ones included), gradients by ``jax.grad`` of ``model.stateless_call``. torch:
    gradients by ``torch.autograd.grad``, then ``optimizer.apply_gradients`` (eager)."""

    def __init__(
        self,
        twin: X.Twin,
        spec: Any,
        weights: Mapping[str, np.ndarray],
        batches: list[X.Batch],
        dtype: str,
        **options: Any,
    ) -> None:
        self.label = f"keras-{BACKEND}"
        self.dtype = dtype
        self.model, self.grad_fn = _model_and_grad_fn(twin, dtype)
        X.set_keras_weights(twin, self.model, weights)
        self.compiled = lrspec.compile(spec, self.model, target="keras", **options)
        self.plan = self.compiled.plan
        self.names = X.keras_names(self.model)
        back = {twin.tf_name(n): n for n in weights}
        self.torch_name = {n: back[n] for n in self.names}
        self.trainable = list(self.model.trainable_variables)
        by_id = {id(v): n for v, n in zip(self.model.weights, self.names)}
        self.trainable_names = [by_id[id(v)] for v in self.trainable]
        self.batches = [(ops.convert_to_tensor(b.x_tf), ops.convert_to_tensor(b.y)) for b in batches]
        opt = self.compiled.optimizer
        if BACKEND == "jax":
            index = {id(v): k for k, v in enumerate(self.trainable)}
            built = [index[id(v)] for v in opt._trainable_variables]  # the exact build list
            grad_fn = self.grad_fn

            def step(tv: list[Any], ov: list[Any], x: Any, y: Any) -> Any:
                grads = grad_fn(tv, x, y)
                new, ov = opt.stateless_apply(ov, [grads[k] for k in built], [tv[k] for k in built])
                tv = list(tv)
                for k, v in zip(built, new):
                    tv[k] = v
                return tv, ov, grads

            self._step = jax.jit(step)
            self._tv = [v.value for v in self.trainable]
            self._ov = [v.value for v in opt.variables]
        else:
            tvars = list(self.compiled.trainable_variables)
            index = {id(v): k for k, v in enumerate(self.trainable)}
            self._apply_index = [index[id(v)] for v in tvars]
            self._tvars = tvars

    def step(self, t: int) -> dict[str, np.ndarray]:
        x, y = self.batches[t % len(self.batches)]
        if BACKEND == "jax":
            self._tv, self._ov, grads = self._step(self._tv, self._ov, x, y)
        else:
            grads = self.grad_fn([v.value for v in self.trainable], x, y)
            if self._tvars:
                self.compiled.optimizer.apply_gradients(zip([grads[k] for k in self._apply_index], self._tvars))
        return {n: np.asarray(ops.convert_to_numpy(g), dtype=self.dtype) for n, g in zip(self.trainable_names, grads)}

    def values(self) -> dict[str, np.ndarray]:
        if BACKEND == "jax":
            return {n: np.array(a, copy=True) for n, a in zip(self.trainable_names, self._tv)}
        return {n: np.array(ops.convert_to_numpy(v), copy=True) for n, v in zip(self.names, self.model.weights)}


def _groups(runner: Runner) -> dict[str, tuple[Any, ...]]:
    """The plan's groups by name: lr, weight decay, freezes and the parameters (torch names)."""
    return {
        g.name: (g.lr, g.weight_decay, g.frozen, g.frozen_until, sorted(runner.torch_name[n] for n in g.params))
        for g in runner.plan.groups
    }


def run(scenario: H.Scenario, dtype: str) -> dict[str, Any]:
    """Train ``scenario`` in torch and the Keras twin on this backend, STEPS updates in lockstep."""
    start = time.perf_counter()
    twin = X.get_twin(scenario.model)
    spec = lrspec.load(scenario.path)
    weights = X.torch_weights(twin.torch_model(seed=0))
    batches = twin.data(seed=0, dtype=np.dtype(dtype))
    opts = dict(scenario.options)
    limits = H.bounds(scenario.id, dtype)
    runners: list[Runner] = [
        TorchRunner(twin, spec, weights, batches, dtype, **opts),
        BackendKerasRunner(twin, spec, weights, batches, dtype, **opts),
    ]
    stats = {r.label: H.TargetStats(r.label) for r in runners}
    try:
        H._lockstep(twin, runners, stats, limits)
    finally:
        for r in runners:
            r.close()
    torch_groups = _groups(runners[0])
    return {
        "model": scenario.model,
        "seconds": time.perf_counter() - start,
        "bounds": [limits.ref, limits.half_ulp, limits.cross],
        "same_groups": all(_groups(r) == torch_groups for r in runners),
        "frozen": bool(runners[0].plan.frozen_params or any(g.frozen_until for g in runners[0].plan.groups)),
        "stats": {
            label: {
                "cross": st.cross_rel,
                "elementwise": st.cross_max_rel,
                "abs": st.cross_abs,
                "ref": st.ref_rel_final,
                "budget": st.ref_budget,
                "frozen_checked": st.frozen_checked,
                "failures": st.failures[:20],
            }
            for label, st in stats.items()
        },
    }


def selected(args: list[str]) -> list[tuple[str, H.Scenario]]:
    """``dtype:id`` arguments (``float64:all`` / ``float32:all``) -> (dtype, scenario) runs."""
    out = []
    for arg in args:
        dtype, _, sid = arg.partition(":")
        pool = H.F64_SCENARIOS if dtype == "float64" else H.SCENARIOS
        out += [(dtype, s) for s in pool if sid in ("all", s.id)]
    return out


def main() -> None:
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    results: dict[str, Any] = {"backend": keras.backend.backend(), "runs": {}}
    for dtype, scenario in selected(sys.argv[1:]):
        key = f"{dtype}:{scenario.id}"
        try:
            results["runs"][key] = run(scenario, dtype)
        except Exception:
            results["runs"][key] = {"error": traceback.format_exc(limit=8)[-3000:]}
    results["seconds"] = time.perf_counter() - t0
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
