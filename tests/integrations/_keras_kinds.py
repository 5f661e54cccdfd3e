"""The four kinds of Keras model the save/load tests train: builders, data, and a spec per kind.

Imported by the tests and by their fresh-process worker (``_keras_reload_worker.py``); the
subclassed model is registered with Keras so that ``load_model`` can rebuild it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

KINDS = ("sequential", "nested_sequential", "functional", "subclassed")
BATCH, N = 4, 16  # 4 updates per epoch


@keras.saving.register_keras_serializable(package="lrspec_tests")
class Subclassed(keras.Model):  # type: ignore[misc]
    """A subclassed model with a nested custom block: paths ``net/block/enc/kernel`` while built."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = keras.Sequential([keras.layers.Dense(6, activation="tanh", name="enc")], name="block")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, x: Any) -> Any:
        return self.head(self.block(x))


def build(kind: str) -> Any:
    """A freshly built model of ``kind`` (seeded)."""
    keras.utils.set_random_seed(7)
    layers = keras.layers
    if kind == "sequential":
        return keras.Sequential(
            [keras.Input((5,)), layers.Dense(6, activation="tanh", name="body"), layers.Dense(3, name="head")],
            name="mlp",
        )
    if kind == "nested_sequential":  # lrspec's bundled LeNet: two Sequentials inside a functional model
        from lrspec_keras.examples import lenet

        return lenet(seed=7)
    if kind == "functional":
        inp = keras.Input((5,))
        h = layers.Dense(6, activation="tanh", name="enc")(inp)
        return keras.Model(inp, layers.Dense(3, name="head")(h), name="net")
    if kind == "subclassed":
        model = Subclassed(name="net")
        model(np.zeros((1, 5), np.float32))
        return model
    raise ValueError(kind)


def data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    shape = (N, 32, 32, 3) if kind == "nested_sequential" else (N, 5)
    return rng.normal(size=shape).astype(np.float32), rng.integers(0, 3, size=(N,))


def spec(names: list[str]) -> dict[str, Any]:
    """Adam with decoupled decay, a warmup-cosine schedule, biases without decay, the first kernel
    frozen until update 3 and the last one at 3x the lr."""
    kernels = [n for n in names if n.endswith(".kernel")]
    return {
        "version": 1,
        "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
        "schedule": {"type": "warmup", "steps": 2, "then": {"type": "cosine", "decay_steps": 20, "min_mult": 0.1}},
        "groups": [
            {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
            {"name": "late", "params": [kernels[0]], "freeze": {"until_step": 3}},
            {"name": "last", "params": [kernels[-1]], "lr_mult": 3.0},
        ],
    }


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def fit(model: Any, kind: str, epochs: int) -> None:
    x, y = data(kind)
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)


def weights(model: Any) -> dict[str, np.ndarray]:
    """Every variable of the model by its position (the layer tree order)."""
    return {str(i): np.array(v.numpy()) for i, v in enumerate(model.weights)}
