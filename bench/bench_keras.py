"""Per-step time (forward + backward + update) of the ``keras`` target vs stock ``keras.optimizers.Adam``,
on each Keras backend (one subprocess per backend: ``KERAS_BACKEND`` is read at import).

Model: an MLP 784-1024-512-10 (1.3 M parameters), batch 64, float32, CPU. lrspec: adam with a
warmup-cosine schedule and 3 plan groups (head at 0.1x, biases without decay); stock: one
``Adam(1e-3, epsilon=1e-8)``. Two loops: ``model.fit`` (``steps_per_execution=1``) and a
compiled loop (TensorFlow: ``tf.function`` around ``apply_gradients``; JAX: ``jax.jit`` around
``stateless_call`` + ``stateless_apply``; torch: eager ``apply_gradients``, torch has no graph
mode in Keras). Each variant is timed ``--repeats`` times over ``--steps`` steps after a
warm-up, interleaved, minimum reported, with the ratio lrspec / stock per backend.

    python bench/bench_keras.py [--steps 30] [--repeats 3] [--backends tensorflow,jax,torch]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIZES = (784, 1024, 512, 10)
BATCH = 64
SPEC = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3},
    "schedule": {"type": "warmup", "steps": 100, "then": {"type": "cosine", "decay_steps": 10000}},
    "groups": [
        {"name": "head", "params": ["fc3.*"], "lr_mult": 0.1},
        {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
    ],
}


def _model() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((SIZES[0],))]
    for i, n in enumerate(SIZES[1:], start=1):
        layers.append(keras.layers.Dense(n, activation="relu" if i < len(SIZES) - 1 else None, name=f"fc{i}"))
    return keras.Sequential(layers, name="mlp")


def _optimizer(kind: str, model: Any) -> Any:
    import keras

    if kind == "stock":
        return keras.optimizers.Adam(1e-3, epsilon=1e-8)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters"))
    from lrspec_keras.target import KerasTarget

    from lrspec.api import as_spec
    from lrspec.resolve import resolve

    target = KerasTarget()
    return target.compile(resolve(as_spec(SPEC), target.parameters(model)), model).optimizer


def _loop(model: Any, opt: Any, x: Any, y: Any) -> Any:
    """A compiled training step for the backend (see the module docstring)."""
    import keras

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step() -> None:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))

        return step
    if backend == "jax":
        import jax

        opt.build(model.trainable_variables)
        state = [[v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
                 [v.value for v in opt.variables]]

        def loss(tv: Any, ntv: Any) -> Any:
            out, ntv = model.stateless_call(tv, ntv, x, training=True)
            return loss_fn(y, out), ntv

        @jax.jit
        def jstep(tv: Any, ntv: Any, ov: Any) -> Any:
            (_, ntv), grads = jax.value_and_grad(loss, has_aux=True)(tv, ntv)
            tv, ov = opt.stateless_apply(ov, grads, tv)
            return tv, ntv, ov

        def step() -> None:
            state[:] = jstep(*state)
            jax.block_until_ready(state[0])

        return step
    import torch

    def tstep() -> None:
        out = model(x, training=True)
        value = loss_fn(y, out)
        grads = torch.autograd.grad(value, [v.value for v in model.trainable_variables])
        opt.apply_gradients(zip(grads, model.trainable_variables))

    return tstep


def worker(steps: int, repeats: int) -> dict[str, float]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * steps, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=(BATCH * steps,))
    runs: dict[str, Any] = {}
    for kind in ("stock", "lrspec"):
        model = _model()
        opt = _optimizer(kind, model)
        model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x[:BATCH * 2], y[:BATCH * 2], batch_size=BATCH, epochs=1, verbose=0)  # warm-up / trace
        loop_model = _model()
        loop = _loop(loop_model, _optimizer(kind, loop_model), keras.ops.convert_to_tensor(x[:BATCH]),
                     keras.ops.convert_to_tensor(y[:BATCH]))
        loop()
        runs[kind] = (model, loop)
    best: dict[str, float] = {}
    for _ in range(repeats):
        for kind, (model, loop) in runs.items():
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
            fit_ms = (time.perf_counter() - t0) * 1000 / steps
            t0 = time.perf_counter()
            for _ in range(steps):
                loop()
            loop_ms = (time.perf_counter() - t0) * 1000 / steps
            best[f"{kind}_fit"] = min(best.get(f"{kind}_fit", 1e9), fit_ms)
            best[f"{kind}_loop"] = min(best.get(f"{kind}_loop", 1e9), loop_ms)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.steps, args.repeats)))
        return
    print(f"{'backend':<11} {'loop':<5} {'stock ms':>9} {'lrspec ms':>10} {'ratio':>6}")
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        proc = subprocess.run([sys.executable, __file__, "--worker", "--steps", str(args.steps), "--repeats",
                               str(args.repeats)], capture_output=True, text=True, env=env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{backend:<11} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1][7:])
        for loop in ("fit", "loop"):
            s, m = r[f"stock_{loop}"], r[f"lrspec_{loop}"]
            print(f"{backend:<11} {loop:<5} {s:>9.2f} {m:>10.2f} {m / s:>6.2f}")


if __name__ == "__main__":
    main()
