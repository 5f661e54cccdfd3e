"""``freeze_statistics: true`` in Keras vs stock ``base.trainable = False`` on MobileNetV3Small."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import lrspec  # noqa: E402

pytestmark = pytest.mark.tf

STEPS, BATCH = 3, 4


def _model() -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3), include_top=False, pooling="avg", include_preprocessing=False
    )
    inp = keras.Input((32, 32, 3))
    out = keras.layers.Dense(5, name="head")(base(inp))
    return keras.Model(inp, out, name="transfer"), base


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(STEPS * BATCH, 32, 32, 3)).astype(np.float32), rng.integers(0, 5, size=(STEPS * BATCH,))


def _moving(base: Any) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in base.non_trainable_weights if "moving" in v.path]


def _fit(model: Any, optimizer: Any) -> None:
    x, y = _data()
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)


def test_freeze_statistics_equals_stock_trainable_false() -> None:
    stock, stock_base = _model()
    stock_base.trainable = False
    _fit(stock, keras.optimizers.SGD(learning_rate=0.1))

    model, base = _model()
    moving0 = _moving(base)
    assert len(moving0) == 68  # 34 BatchNormalization layers
    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1},
        "groups": [{"name": "base", "params": [f"{base.name}.*"], "freeze": True, "freeze_statistics": True}],
    }
    c = lrspec.compile(spec, model, target="tf")
    assert any("34 BatchNormalization" in n for n in c.report)
    _fit(model, c.optimizer)
    for a, b in zip(_moving(base), moving0):
        np.testing.assert_array_equal(a, b)  # moving statistics unchanged
    for a, b in zip(_moving(stock_base), moving0):
        np.testing.assert_array_equal(a, b)
    head, stock_head = model.get_layer("head"), stock.get_layer("head")
    for v, w in zip(head.weights, stock_head.weights):
        np.testing.assert_allclose(v.numpy(), w.numpy(), rtol=0, atol=1e-6)
    # the head did train (its bias; in inference mode this randomly initialised base gives tiny features)
    assert float(np.abs(head.weights[1].numpy()).max()) > 1e-2
