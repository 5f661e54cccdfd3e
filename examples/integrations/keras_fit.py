"""lrspec with Keras ``model.fit`` and ``.keras`` save/load (run: ``python examples/integrations/keras_fit.py``).

A Sequential model (the kind whose variable paths Keras changes on load) is trained with
per-layer rates, a frozen-until-N layer and warmup + cosine through ``model.fit``; saved to a
``.keras`` file mid-run; reloaded in a *fresh process* (``--resume FILE``, started by this
script), where only ``import keras, lrspec_keras`` is needed to rebuild the lrspec optimizer and
its state; and continued. The result equals the uninterrupted run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import lrspec_keras  # noqa: F401  (registers lrspec's optimizer classes with Keras: needed by load_model)
import numpy as np

SPEC = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 1e-2, "weight_decay": 0.01},
    "schedule": {"type": "warmup", "steps": 4, "then": {"type": "cosine", "decay_steps": 40, "min_mult": 0.1}},
    "groups": [
        {"name": "body", "params": ["body.*"], "lr_mult": 0.1, "freeze": {"until_step": 4}},
        {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
    ],
}


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def build() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu", name="body"), keras.layers.Dense(2, name="head")],
        name="mlp",
    )


def fit(model: keras.Model, epochs: int) -> None:
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)


def main() -> None:
    import lrspec

    model = build()
    compiled = lrspec.compile(SPEC, model, target="keras")
    print(compiled.describe())
    model.compile(optimizer=compiled.optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fit(model, epochs=2)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        fit(model, epochs=2)  # the uninterrupted run
        out = os.path.join(folder, "resumed.npz")
        subprocess.run([sys.executable, __file__, "--resume", path, out], check=True)
        with np.load(out) as resumed:
            diff = max(float(np.abs(resumed[str(i)] - w.numpy()).max()) for i, w in enumerate(model.weights))
    print(f"resumed in a fresh process vs uninterrupted: max |difference| = {diff:.3g}")
    assert diff <= 1e-6


def resume(path: str, out: str) -> None:
    model = keras.models.load_model(path)  # optimizer, schedule and state come back
    print(f"reloaded {type(model.optimizer).__name__} at update {int(model.optimizer.iterations.numpy())}")
    fit(model, epochs=2)
    np.savez(out, **{str(i): w.numpy() for i, w in enumerate(model.weights)})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--resume"]:
        resume(sys.argv[2], sys.argv[3])
    else:
        main()
