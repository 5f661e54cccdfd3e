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


@pytest.mark.parametrize("name", sorted(X.TWINS))
def test_flax_twin_computes_the_torch_function(name: str) -> None:
    """The Flax twin (optax target) with torch's weights copied across: the same logits (1e-5)
    and the same gradients (1e-4 relative, converted to torch layout) as torch."""
    pytest.importorskip("flax")
    pytest.importorskip("optax")
    import jax
    import torch
    import xf_flax as F

    twin = X.get_twin(name)
    tmodel = twin.torch_model(seed=3)
    weights = X.torch_weights(tmodel)
    batch = twin.data(seed=5)[0]
    tlogits = tmodel(torch.from_numpy(batch.x_torch))
    torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(batch.y)).backward()
    tgrads = {n: p.grad.numpy() for n, p in tmodel.named_parameters()}
    tl = tlogits.detach().numpy()

    graphdef, params = F.flax_params(twin, F.flax_model(twin), weights)
    y = batch.y.astype(np.int32)
    fl = np.asarray(jax.jit(F.logits_fn(graphdef))(params, batch.x_tf))
    assert np.abs(fl - tl).max() <= 1e-5 * max(np.abs(tl).max(), 1.0), f"{name}: Flax logits differ"
    fgrads = F.flat(F.grad_fn(graphdef)(params, batch.x_tf, y))
    back = {twin.flax_name(n): n for n in tgrads}
    assert sorted(back) == sorted(fgrads)
    for fname, g in fgrads.items():
        tname = back[fname]
        got = twin.to_torch(tname, g)
        ref = tgrads[tname]
        assert got.shape == ref.shape
        err = np.abs(got - ref).max()
        assert err <= 1e-4 * max(np.abs(ref).max(), 1e-6), f"{name} flax grad {tname}: {err:.2e}"


@pytest.mark.parametrize("name", sorted(X.TWINS))
def test_flax_twin_names_are_the_bundled_optax_examples(name: str) -> None:
    """The Flax twin's canonical names (as the optax target reads them from the nnx state) and
    shapes are those of :mod:`lrspec_optax.examples` (the bundled pytrees), and each is the
    torch parameter's ``flax_name`` with its TF-layout shape."""
    pytest.importorskip("flax")
    pytest.importorskip("optax")
    import lrspec_optax.examples as OE
    import xf_flax as F

    import lrspec

    twin = X.get_twin(name)
    weights = X.torch_weights(twin.torch_model(seed=0))
    _, params = F.flax_params(twin, F.flax_model(twin), weights)
    target = lrspec.get_target("optax")
    got = dict(target.parameters(params))
    assert got == {n: a.shape for n, a in F.flat(params).items()}
    assert got == dict(target.parameters(OE.EXAMPLES[name](seed=0)))
    assert got == {twin.flax_name(n): twin.to_tf(n, a).shape for n, a in weights.items()}
