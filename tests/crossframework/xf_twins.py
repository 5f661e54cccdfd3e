"""Twin models for the cross-framework suite: one architecture in PyTorch, Keras 3, a
tf.compat.v1 graph and Flax (``xf_flax.py``), with identical weights and identical synthetic
batches.

The torch and Keras models are the bundled twins of ``lrspec_torch.examples`` and
``lrspec_tf.examples``. The tf.compat.v1 graph is
written here with raw ops (``tf.nn.conv2d``, ``tf.matmul``, ...) and ``get_variable`` under the
same paths as the Keras variables, so the canonical name sets are: torch names (e.g.
``conv1.weight``), TF names (``conv1.kernel``, shared by Keras and v1) and Flax names
(``conv1.kernel``, but ``blocks.0.norm.scale``/``embed.embedding`` where Keras says
``gamma``/``embeddings``; :meth:`Twin.flax_name`).

Layouts (torch -> TF): conv kernels OIHW -> HWIO; dense weights (out, in) -> (in, out); the first
dense layer after a conv stack also permutes its input axis from torch's CHW flatten order to
Keras's HWC order; embeddings, biases and norm scales/offsets are copied as they are. Flax
uses the same layouts as Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import lrspec_tf.examples as KE
import lrspec_torch.examples as E
import numpy as np

__all__ = [
    "BATCH",
    "NUM_BATCHES",
    "TWINS",
    "Batch",
    "Twin",
    "build_v1_graph",
    "dense_grad",
    "get_twin",
    "keras_names",
    "torch_weights",
]

BATCH = 8
NUM_BATCHES = 4


@dataclass(frozen=True)
class Batch:
    """One batch: ``x_torch`` (NCHW float32 or int64 tokens), ``x_tf`` (NHWC or int32), ``y``."""

    x_torch: np.ndarray
    x_tf: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Twin:
    """One architecture in three frameworks.

    ``flatten`` maps the torch name of a dense weight that follows a conv stack to the
    (C, H, W) shape of its input feature map.
    """

    name: str
    torch_builder: Callable[..., Any]
    keras_builder: Callable[..., Any]
    input_shape: tuple[int, ...]  # torch layout, without the batch axis; () for tokens
    classes: int
    flatten: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    tokens: tuple[int, int] | None = None  # (vocab, sequence length) for token models

    # -- names and layouts ---------------------------------------------------------------

    def tf_name(self, torch_name: str) -> str:
        """The canonical TF name of a torch parameter name (``conv1.weight`` -> ``conv1.kernel``)."""
        stem, _, leaf = torch_name.rpartition(".")
        if stem.endswith("norm"):
            return f"{stem}.{ {'weight': 'gamma', 'bias': 'beta'}[leaf] }"
        if stem.endswith("embed") and leaf == "weight":
            return f"{stem}.embeddings"
        return f"{stem}.kernel" if leaf == "weight" else torch_name

    def flax_name(self, torch_name: str) -> str:
        """The canonical optax name of a torch parameter in the Flax twin (flax's leaf names:
        ``conv1.weight`` -> ``conv1.kernel``, ``blocks.0.norm.weight`` -> ``blocks.0.norm.scale``,
        ``embed.weight`` -> ``embed.embedding``); its layout is TF's (:meth:`to_tf`)."""
        stem, _, leaf = torch_name.rpartition(".")
        if stem.endswith("norm"):
            return f"{stem}.{ {'weight': 'scale', 'bias': 'bias'}[leaf] }"
        if stem.endswith("embed") and leaf == "weight":
            return f"{stem}.embedding"
        return f"{stem}.kernel" if leaf == "weight" else torch_name

    def to_tf(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        """A torch-layout array in TF layout (also the Flax twins' layout)."""
        a = np.asarray(value)
        if torch_name in self.flatten:
            c, h, w = self.flatten[torch_name]
            return np.ascontiguousarray(a.reshape(a.shape[0], c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, -1))
        if a.ndim == 4:
            return np.ascontiguousarray(a.transpose(2, 3, 1, 0))
        if a.ndim == 2 and not self.tf_name(torch_name).endswith("embeddings"):
            return np.ascontiguousarray(a.T)
        return a

    def to_torch(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        """A TF-layout array (of the parameter called ``torch_name`` in torch) in torch layout."""
        a = np.asarray(value)
        if torch_name in self.flatten:
            c, h, w = self.flatten[torch_name]
            return np.ascontiguousarray(a.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(-1, c * h * w))
        if a.ndim == 4:
            return np.ascontiguousarray(a.transpose(3, 2, 0, 1))
        if a.ndim == 2 and not self.tf_name(torch_name).endswith("embeddings"):
            return np.ascontiguousarray(a.T)
        return a

    # -- models -----------------------------------------------------------------------------

    def torch_model(self, seed: int = 0) -> Any:
        """The torch model, initialised by torch with ``seed`` (the source of every twin's weights)."""
        return self.torch_builder(seed=seed)

    def keras_model(self, weights: Mapping[str, np.ndarray]) -> Any:
        """The Keras model with ``weights`` (torch names, torch layout) copied in."""
        model = self.keras_builder(seed=None)
        set_keras_weights(self, model, weights)
        return model

    def data(self, seed: int = 0, dtype: Any = np.float32) -> list[Batch]:
        """NUM_BATCHES fixed batches of BATCH samples (standard normal images of ``dtype`` or
        uniform tokens); both dtypes draw the same numbers."""
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(NUM_BATCHES):
            y = rng.integers(0, self.classes, BATCH)
            if self.tokens is not None:
                vocab, length = self.tokens
                tok = rng.integers(0, vocab, (BATCH, length))
                out.append(Batch(tok.astype(np.int64), tok.astype(np.int32), y.astype(np.int64)))
            else:
                x = rng.standard_normal((BATCH, *self.input_shape)).astype(np.float32).astype(dtype)
                out.append(Batch(x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y.astype(np.int64)))
        return out

    def v1_logits(self, x: Any, variables: Mapping[str, Any]) -> Any:
        """The forward pass as raw TF ops; ``variables`` maps TF canonical names to variables."""
        return _V1_FORWARD[self.name](x, variables)


def dense_grad(g: Any, dtype: Any = np.float32) -> np.ndarray:
    """A gradient as a dense array of ``dtype``: tensors, ``tf.IndexedSlices`` (eager) and
    ``IndexedSlicesValue`` (from a v1 session) are summed into their dense shape."""
    if hasattr(g, "indices") and hasattr(g, "values"):
        shape = tuple(int(d) for d in np.asarray(g.dense_shape))
        out = np.zeros(shape, dtype=dtype)
        np.add.at(out, np.asarray(g.indices), np.asarray(g.values))
        return out
    return np.asarray(g, dtype=dtype)


def keras_names(model: Any) -> list[str]:
    """Canonical names of a Keras model's variables (path with ``/`` -> ``.``)."""
    return [v.path.replace("/", ".") for v in model.weights]


def torch_weights(model: Any) -> dict[str, np.ndarray]:
    """Copies of a torch model's parameters by name."""
    return {n: p.detach().cpu().numpy().copy() for n, p in model.named_parameters()}


def set_keras_weights(twin: Twin, model: Any, weights: Mapping[str, np.ndarray]) -> None:
    """Assign torch-named, torch-layout ``weights`` to the Keras model's variables."""
    by_tf = {twin.tf_name(n): (n, a) for n, a in weights.items()}
    names = keras_names(model)
    if sorted(names) != sorted(by_tf):
        raise AssertionError(f"{twin.name}: Keras names {names} do not mirror torch names {list(weights)}")
    for v, name in zip(model.weights, names):
        tname, a = by_tf[name]
        v.assign(twin.to_tf(tname, a))


# -------------------------------------------------------------------------------------------
# tf.compat.v1 forward passes (raw ops, NHWC)
# -------------------------------------------------------------------------------------------


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _conv(x: Any, v: Mapping[str, Any], name: str, padding: str) -> Any:
    tf = _tf()
    return tf.nn.relu(tf.nn.conv2d(x, v[f"{name}.kernel"], strides=1, padding=padding) + v[f"{name}.bias"])


def _pool(x: Any) -> Any:
    return _tf().nn.max_pool2d(x, 2, 2, "VALID")


def _dense(x: Any, v: Mapping[str, Any], name: str, relu: bool = False) -> Any:
    tf = _tf()
    y = tf.matmul(x, v[f"{name}.kernel"]) + v[f"{name}.bias"]
    return tf.nn.relu(y) if relu else y


def _flat(x: Any) -> Any:
    tf = _tf()
    n = int(np.prod(x.shape[1:]))
    return tf.reshape(x, [-1, n])


def _mnist_v1(x: Any, v: Mapping[str, Any]) -> Any:
    h = _pool(_conv(x, v, "conv1", "SAME"))
    h = _pool(_conv(h, v, "conv2", "SAME"))
    return _dense(_dense(_flat(h), v, "fc1", relu=True), v, "fc2")


def _convnet6_v1(x: Any, v: Mapping[str, Any]) -> Any:
    h = _conv(x, v, "conv1", "SAME")
    h = _pool(_conv(h, v, "conv2", "SAME"))
    h = _conv(h, v, "conv3", "SAME")
    h = _pool(_conv(h, v, "conv4", "SAME"))
    h = _conv(h, v, "conv5", "SAME")
    return _dense(_flat(h), v, "fc6")


def _lenet_v1(x: Any, v: Mapping[str, Any]) -> Any:
    h = _pool(_conv(x, v, "features.0", "VALID"))
    h = _pool(_conv(h, v, "features.3", "VALID"))
    h = _dense(_flat(h), v, "classifier.0", relu=True)
    h = _dense(h, v, "classifier.2", relu=True)
    return _dense(h, v, "classifier.4")


def _transformer_v1(tokens: Any, v: Mapping[str, Any]) -> Any:
    tf = _tf()
    h = tf.gather(v["embed.embeddings"], tokens)
    for i in range(E.TRANSFORMER_BLOCKS):
        b = f"blocks.{i}"
        mean, var = tf.nn.moments(h, axes=[-1], keepdims=True)
        z = (h - mean) * tf.math.rsqrt(var + 1e-5) * v[f"{b}.norm.gamma"] + v[f"{b}.norm.beta"]
        h = h + _dense(_dense(z, v, f"{b}.fc1", relu=True), v, f"{b}.fc2")
    return _dense(tf.reduce_mean(h, axis=1), v, "head")


_V1_FORWARD: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "mnist_cnn": _mnist_v1,
    "convnet6": _convnet6_v1,
    "lenet": _lenet_v1,
    "transformer": _transformer_v1,
}

TWINS: dict[str, Twin] = {
    "mnist_cnn": Twin("mnist_cnn", E.mnist_cnn, KE.mnist_cnn, (1, 28, 28), 10, flatten={"fc1.weight": (40, 7, 7)}),
    "convnet6": Twin("convnet6", E.convnet6, KE.convnet6, (3, 16, 16), 10, flatten={"fc6.weight": (16, 4, 4)}),
    "lenet": Twin("lenet", E.lenet, KE.lenet, (3, 32, 32), 10, flatten={"classifier.0.weight": (16, 5, 5)}),
    "transformer": Twin(
        "transformer",
        E.transformer,
        KE.transformer,
        (),
        E.TRANSFORMER_CLASSES,
        tokens=(E.TRANSFORMER_VOCAB, 8),
    ),
}


def _mnist_small_torch(seed: int | None = 0) -> Any:
    """mnist_cnn's layers and names at a fraction of its width (conv1 1->4, conv2 4->8, fc1
    7*7*8 -> 32, fc2 32 -> 10): the float64 runs of the MNIST scenarios (float64 convolutions
    of the 2.1 M-parameter network cost minutes on CPU)."""
    import torch
    from torch import nn

    if seed is not None:
        torch.manual_seed(seed)

    class MnistSmall(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 5, padding=2)
            self.conv2 = nn.Conv2d(4, 8, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 8, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x: Any) -> Any:
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
            return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))

    return MnistSmall()


def _mnist_small_keras(seed: int | None = 0) -> Any:
    """Keras twin of :func:`_mnist_small_torch` (input (N, 28, 28, 1))."""
    import keras

    inp = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(4, 5, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(8, 5, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="fc2")(x), name="mnist_small")


_V1_FORWARD["mnist_small"] = _mnist_v1

SMALL_TWINS: dict[str, Twin] = {
    "mnist_small": Twin(
        "mnist_small", _mnist_small_torch, _mnist_small_keras, (1, 28, 28), 10, flatten={"fc1.weight": (8, 7, 7)}
    ),
}
"""Narrower twins with the same layer names, for the float64 runs (not in :data:`TWINS`,
whose members are the bundled example models)."""


def get_twin(name: str) -> Twin:
    """The twin called ``name`` (:data:`TWINS` or :data:`SMALL_TWINS`)."""
    return TWINS[name] if name in TWINS else SMALL_TWINS[name]


def build_v1_graph(twin: Twin, weights: Mapping[str, np.ndarray], dtype: Any = np.float32) -> dict[str, Any]:
    """In the current default graph: variables of ``dtype`` (created with ``get_variable`` at the
    Keras paths, initialised from torch-named ``weights``), placeholders and the mean
    cross-entropy loss.

    Returns ``{"x", "y", "logits", "loss", "variables"}`` where ``variables`` maps TF canonical
    names to the variables, in torch's parameter order.
    """
    tf = _tf()
    variables: dict[str, Any] = {}
    for tname, a in weights.items():
        name = twin.tf_name(tname)
        stem, _, leaf = name.rpartition(".")
        path = f"{_keras_path(twin, stem)}/{leaf}" if stem else leaf
        init = twin.to_tf(tname, a).astype(dtype)
        variables[name] = tf.compat.v1.get_variable(path, initializer=tf.constant(init), use_resource=True)
    if twin.tokens is not None:
        x = tf.compat.v1.placeholder(tf.int32, (None, twin.tokens[1]), name="tokens")
    else:
        c, h, w = twin.input_shape
        x = tf.compat.v1.placeholder(tf.as_dtype(np.dtype(dtype)), (None, h, w, c), name="image")
    y = tf.compat.v1.placeholder(tf.int64, (None,), name="labels")
    logits = twin.v1_logits(x, variables)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return {"x": x, "y": y, "logits": logits, "loss": loss, "variables": variables}


def _keras_path(twin: Twin, stem: str) -> str:
    """The Keras layer path of a canonical stem, as the Keras twins have it: ``blocks.0.fc1`` ->
    ``blocks/0/fc1``, ``features.0`` -> ``features/0``, ``conv1`` -> ``conv1``."""
    return stem.replace(".", "/")
