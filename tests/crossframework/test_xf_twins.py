"""The twins compute the same function: torch, Keras and the tf.compat.v1 graph give the same
logits and the same gradients (converted to torch layout) for the same weights and batch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("keras")

import xf_twins as X


@pytest.mark.parametrize("name", sorted(X.TWINS))
def test_forward_and_gradients_agree(name: str) -> None:
    import tensorflow as tf
    import torch

    twin = X.get_twin(name)
    tmodel = twin.torch_model(seed=3)
    weights = X.torch_weights(tmodel)
    kmodel = twin.keras_model(weights)
    batch = twin.data(seed=5)[0]

    tlogits = tmodel(torch.from_numpy(batch.x_torch))
    torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(batch.y)).backward()
    tgrads = {n: p.grad.numpy() for n, p in tmodel.named_parameters()}
    tl = tlogits.detach().numpy()
    scale = np.abs(tl).max()

    import keras

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        klogits = kmodel(batch.x_tf, training=True)
        loss = loss_fn(batch.y, klogits)
    kgrads = tape.gradient(loss, kmodel.trainable_variables)
    kl = np.asarray(klogits)
    assert np.abs(kl - tl).max() <= 1e-5 * max(scale, 1.0), (
        f"{name}: Keras logits differ by {np.abs(kl - tl).max():.2e}"
    )

    g = tf.Graph()
    with g.as_default():
        built = X.build_v1_graph(twin, weights)
        vs = list(built["variables"].values())
        v1grads = tf.compat.v1.gradients(built["loss"], vs)
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            vl, vg = sess.run([built["logits"], v1grads], {built["x"]: batch.x_tf, built["y"]: batch.y})
    assert np.abs(vl - tl).max() <= 1e-5 * max(scale, 1.0), f"{name}: v1 logits differ by {np.abs(vl - tl).max():.2e}"

    names = X.keras_names(kmodel)
    back = {twin.tf_name(n): n for n in tgrads}
    for label, grads in (("keras", dict(zip(names, kgrads))), ("v1", dict(zip(built["variables"], vg)))):
        for tfname, gval in grads.items():
            tname = back[tfname]
            got = twin.to_torch(tname, X.dense_grad(gval))
            ref = tgrads[tname]
            assert got.shape == ref.shape
            err = np.abs(got - ref).max()
            assert err <= 1e-4 * max(np.abs(ref).max(), 1e-6), f"{name} {label} grad {tname}: {err:.2e}"


@pytest.mark.parametrize("name", sorted(X.TWINS))
def test_layout_round_trip(name: str) -> None:
    twin = X.get_twin(name)
    rng = np.random.default_rng(0)
    shapes = {"mnist_cnn": {"fc1.weight": (1024, 1960)}, "convnet6": {"fc6.weight": (10, 256)}}.get(name, {})
    for tname, shape in {**shapes, "a.weight": (4, 3, 5, 5), "b.bias": (7,)}.items():
        a = rng.standard_normal(shape).astype(np.float32)
        assert np.array_equal(twin.to_torch(tname, twin.to_tf(tname, a)), a)
