"""model.fit with the compiled optimizer vs a GradientTape loop; .keras save/load/continue; LR callbacks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import lrspec  # noqa: E402

SPEC = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
    "schedule": {"type": "warmup", "steps": 3, "then": {"type": "cosine", "decay_steps": 20, "min_mult": 0.1}},
    "groups": [
        {"name": "encoder", "params": ["enc.*"], "lr_mult": 0.1},
        {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
        {"name": "frozen", "params": ["emb.*"], "freeze": True},
        {"name": "late", "params": ["head.kernel"], "freeze": {"until_step": 5}},
    ],
}
BATCH, N = 8, 48  # 6 updates per epoch


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, 5)).astype(np.float32), rng.integers(0, 3, size=(N,))


def _model() -> Any:
    keras.utils.set_random_seed(1)
    inp = keras.Input((5,))
    h = keras.layers.Dense(4, name="emb")(inp)
    h = keras.layers.Dense(6, activation="tanh", name="enc")(h)
    out = keras.layers.Dense(3, name="head")(h)
    return keras.Model(inp, out)


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _tape_run(epochs: int) -> tuple[Any, Any]:
    model = _model()
    c = lrspec.compile(SPEC, model, target="tf")
    x, y = _data()

    @tf.function
    def step(xb: Any, yb: Any) -> None:
        with tf.GradientTape() as tape:
            loss = LOSS(yb, model(xb, training=True))
        grads = tape.gradient(loss, c.trainable_variables)
        c.optimizer.apply_gradients(zip(grads, c.trainable_variables))

    for _ in range(epochs):
        for i in range(0, N, BATCH):
            step(tf.constant(x[i:i + BATCH]), tf.constant(y[i:i + BATCH]))
    return model, c


def test_fit_matches_gradient_tape_loop_and_keras_round_trip(tmp_path: Any) -> None:
    x, y = _data()
    tape_model, _ = _tape_run(epochs=4)

    model = _model()
    emb0 = [w.numpy() for w in model.get_layer("emb").weights]
    c = lrspec.compile(SPEC, model, target="tf")
    assert [v.path for v in c.trainable_variables] == ["enc/kernel", "enc/bias", "head/kernel", "head/bias"]
    model.compile(optimizer=c.optimizer, loss=LOSS)
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    assert int(c.optimizer.iterations.numpy()) == 12

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # the optimizer classes are registered: no custom_objects
    assert type(loaded.optimizer) is type(c.optimizer)
    assert int(loaded.optimizer.iterations.numpy()) == 12
    assert len(loaded.optimizer.variables) == len(c.optimizer.variables)
    for a, b in zip(loaded.optimizer.variables, c.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))
    loaded.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)

    for w_fit, w_tape in zip(loaded.weights, tape_model.weights):
        ref = w_tape.numpy()
        np.testing.assert_allclose(w_fit.numpy(), ref, rtol=0, atol=1e-6 * max(1.0, float(np.abs(ref).max())))
    for w, w0 in zip(loaded.get_layer("emb").weights, emb0):
        np.testing.assert_array_equal(w.numpy(), w0)  # permanently frozen: bitwise unchanged through fit


def test_fit_with_lr_callbacks_rescales_every_group() -> None:
    """LearningRateScheduler sets optimizer.learning_rate (the spec's base lr): every group is rescaled
    by new/base on top of its schedule; ReduceLROnPlateau multiplies it."""
    x, y = _data()
    spec = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.1},
            "groups": [{"name": "head", "params": ["head.*"], "lr_mult": 0.5}]}
    model = _model()
    c = lrspec.compile(spec, model, target="tf")
    model.compile(optimizer=c.optimizer, loss=LOSS)
    before = [w.numpy() for w in model.weights]
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 if epoch == 0 else 0.02)
    model.fit(x, y, batch_size=N, epochs=2, shuffle=False, verbose=0, callbacks=[sched])
    assert float(c.optimizer.learning_rate.numpy()) == pytest.approx(0.02)
    # replay: epoch 0 at scale 1, epoch 1 at scale 0.2, plain SGD, full batch
    replay = _model()
    for w, b in zip(replay.weights, before):
        w.assign(b)
    for scale in (1.0, 0.2):
        with tf.GradientTape() as tape:
            loss = LOSS(y, replay(x))
        grads = tape.gradient(loss, replay.trainable_variables)
        for v, g in zip(replay.trainable_variables, grads):
            lr = 0.1 * scale * (0.5 if v.path.startswith("head") else 1.0)
            v.assign(v - lr * g)
    for a, b in zip(model.weights, replay.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)

    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    model.fit(x, y, batch_size=N, epochs=2, shuffle=False, verbose=0, callbacks=[plateau])
    assert float(c.optimizer.learning_rate.numpy()) == pytest.approx(0.01)  # one reduction (epoch 2 vs epoch 1)
