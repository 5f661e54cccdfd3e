"""Per-update time (forward + backward + update) of the TensorFlow targets vs stock optimizers.

Model: an MLP 784-2048-1536-512-10 (5.5 M parameters), batch 64, float32, CPU.
Keras: lrspec ``tf`` optimizer (adam, 3 plan groups) inside ``tf.function`` vs stock
``keras.optimizers.Adam`` with one lr. tf.compat.v1 (graph + Session): lrspec ``tf-v1`` train op
vs one ``tf.compat.v1.train.AdamOptimizer.minimize`` and vs the two-optimizers / two-minimize
pattern (one optimizer per lr). Each variant is timed ``--repeats`` times over ``--steps``
updates after a warm-up, interleaved, and the minimum is reported with ratios against the stock
single optimizer measured in the same run.

    python bench/bench_tf.py [--steps 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import lrspec

SIZES = (784, 2048, 1536, 512, 10)
BATCH = 64
SPEC = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3},
    "schedule": {"type": "warmup", "steps": 100, "then": {"type": "cosine", "decay_steps": 10000}},
    "groups": [
        {"name": "head", "params": ["fc4.*"], "lr_mult": 0.1},
        {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
    ],
}


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(BATCH, SIZES[0])).astype(np.float32), rng.integers(0, 10, size=(BATCH,))


def keras_variants() -> dict[str, Callable[[], None]]:
    import keras

    x, y = _data()
    xt, yt = tf.constant(x), tf.constant(y)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    out: dict[str, Callable[[], None]] = {}

    def make(kind: str) -> Callable[[], None]:
        inp = keras.Input((SIZES[0],))
        h = inp
        for i, n in enumerate(SIZES[1:]):
            h = keras.layers.Dense(n, activation="relu" if i < 3 else None, name=f"fc{i + 1}")(h)
        model = keras.Model(inp, h)
        if kind == "lrspec":
            c = lrspec.compile(SPEC, model, target="tf")
            opt, tv = c.optimizer, c.trainable_variables
        else:
            opt, tv = keras.optimizers.Adam(1e-3), model.trainable_variables

        @tf.function
        def step() -> None:
            with tf.GradientTape() as tape:
                loss = loss_fn(yt, model(xt, training=True))
            opt.apply_gradients(zip(tape.gradient(loss, tv), tv))

        return lambda: step()

    out["keras Adam (stock, 1 lr)"] = make("stock")
    out["lrspec tf (TorchAdam, 3 groups)"] = make("lrspec")
    return out


def v1_variants() -> dict[str, Callable[[], None]]:
    x, y = _data()
    out: dict[str, Callable[[], None]] = {}

    def make(kind: str) -> Callable[[], None]:
        graph = tf.Graph()
        with graph.as_default():
            xp = tf.compat.v1.placeholder(tf.float32, (BATCH, SIZES[0]))
            yp = tf.compat.v1.placeholder(tf.int64, (BATCH,))
            h = xp
            variables = []
            rng = np.random.default_rng(1)
            for i, (a, b) in enumerate(itertools.pairwise(SIZES)):
                with tf.compat.v1.variable_scope(f"fc{i + 1}"):
                    w = tf.compat.v1.get_variable("kernel", initializer=(rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32))
                    bias = tf.compat.v1.get_variable("bias", initializer=np.zeros(b, np.float32))
                variables += [w, bias]
                h = h @ w + bias
                if i < 3:
                    h = tf.nn.relu(h)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yp, logits=h))
            gs = tf.compat.v1.train.get_or_create_global_step()
            if kind == "lrspec":
                train = lrspec.compile(SPEC, variables, target="tf-v1").minimize(loss, global_step=gs)
            elif kind == "stock":
                train = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=gs)
            else:  # one optimizer per lr, each with its own minimize (two gradient passes)
                head = [v for v in variables if v.name.startswith("fc4/")]
                body = [v for v in variables if not v.name.startswith("fc4/")]
                op1 = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, var_list=body, global_step=gs)
                op2 = tf.compat.v1.train.AdamOptimizer(1e-4).minimize(loss, var_list=head)
                train = tf.group(op1, op2)
            init = tf.compat.v1.global_variables_initializer()
        sess = tf.compat.v1.Session(graph=graph)
        sess.run(init)
        feed = {xp: x, yp: y}
        return lambda: sess.run(train, feed)

    out["v1 AdamOptimizer.minimize (stock, 1 lr)"] = make("stock")
    out["v1 two AdamOptimizers, two minimize calls"] = make("two")
    out["lrspec tf-v1 train op (3 groups)"] = make("lrspec")
    return out


def timeit(variants: dict[str, Callable[[], None]], steps: int, repeats: int) -> dict[str, float]:
    for fn in variants.values():
        for _ in range(5):
            fn()
    best = {k: float("inf") for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / steps * 1e3)
    return best


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    params = sum(a * b + b for a, b in itertools.pairwise(SIZES))
    print(f"model: MLP {'-'.join(map(str, SIZES))} ({params / 1e6:.2f} M params), batch {BATCH}; "
          f"TF {tf.__version__}, {os.cpu_count()} CPUs; min of {args.repeats} x {args.steps} updates")
    results: dict[str, Any] = {}
    for title, variants, base in (
        ("tf.function (Keras 3)", keras_variants(), "keras Adam (stock, 1 lr)"),
        ("tf.compat.v1 graph + Session", v1_variants(), "v1 AdamOptimizer.minimize (stock, 1 lr)"),
    ):
        times = timeit(variants, args.steps, args.repeats)
        print(f"\n{title}")
        print(f"  {'variant':45s} {'ms/update':>10s} {'ratio':>7s}")
        for k, ms in times.items():
            print(f"  {k:45s} {ms:10.2f} {ms / times[base]:7.3f}")
        results[title] = times
    return results


if __name__ == "__main__":
    main()
