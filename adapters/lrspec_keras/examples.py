"""The bundled example models, Keras 3 side (twins of :mod:`lrspec_torch.examples`).

Layer names are chosen so that the canonical variable names mirror the torch twins'
(Keras ``conv1.kernel`` <-> torch ``conv1.weight``; both ``conv1.bias``), so one spec with
framework-neutral patterns selects the same parameters in both
(``lrspec compile examples/finetune_cnn.yaml --target keras --model lrspec_keras.examples:mnist_cnn``).
:data:`EXAMPLES` maps the framework-neutral names to the builders
(:meth:`lrspec.targets.Target.example_models`); each builder takes ``seed``
(``keras.utils.set_random_seed`` before the layers are made; None leaves the RNGs alone).

Keras is imported inside the functions: importing this module does not import it. Layout
notes: Keras conv kernels are HWIO (torch OIHW), dense kernels (in, out) (torch (out, in)),
and Keras flattens HWC (torch CHW).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EXAMPLES", "convnet6", "lenet", "mnist_cnn", "transformer"]

TRANSFORMER_VOCAB = 50
TRANSFORMER_DIM = 16
TRANSFORMER_BLOCKS = 4
TRANSFORMER_CLASSES = 5


def mnist_cnn(seed: int | None = 0) -> Any:
    """Keras twin of :func:`lrspec_torch.examples.mnist_cnn` (functional model, input (N, 28, 28, 1));
    variable paths ``conv1/kernel``, ..., ``fc2/bias``."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    inp = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(20, 5, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(40, 5, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name="fc1")(x)
    out = keras.layers.Dense(10, name="fc2")(x)
    return keras.Model(inp, out, name="mnist_cnn")


def convnet6(seed: int | None = 0) -> Any:
    """Keras twin of :func:`lrspec_torch.examples.convnet6` (input (N, 16, 16, 3))."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    inp = keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(2, name="pool4")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(10, name="fc6")(x)
    return keras.Model(inp, out, name="convnet6")


def lenet(seed: int | None = 0) -> Any:
    """Keras twin of :func:`lrspec_torch.examples.lenet` (input (N, 32, 32, 3)); nested Sequentials named
    ``features`` and ``classifier`` whose layers are named by their torch index, so paths are
    ``features/0/kernel`` ... ``classifier/4/bias``."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    features = keras.Sequential(
        [
            layers.Conv2D(6, 5, activation="relu", name="0"),
            layers.MaxPooling2D(2, name="2"),
            layers.Conv2D(16, 5, activation="relu", name="3"),
            layers.MaxPooling2D(2, name="5"),
            layers.Flatten(name="flatten"),
        ],
        name="features",
    )
    classifier = keras.Sequential(
        [
            layers.Dense(120, activation="relu", name="0"),
            layers.Dense(84, activation="relu", name="2"),
            layers.Dense(10, name="4"),
        ],
        name="classifier",
    )
    inp = keras.Input((32, 32, 3), name="image")
    return keras.Model(inp, classifier(features(inp)), name="lenet")


def transformer(seed: int | None = 0) -> Any:
    """Keras twin of :func:`lrspec_torch.examples.transformer`; variable paths ``embed/embeddings``,
    ``blocks/{i}/norm/gamma|beta``, ``blocks/{i}/fc1/kernel|bias``, ``head/kernel|bias`` (canonical
    names ``blocks.{i}.norm.gamma`` ..., as the torch twin's ``blocks.{i}.norm.weight``)."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    d = TRANSFORMER_DIM

    class Block(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name=name)
            self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm")
            self.fc1 = keras.layers.Dense(2 * d, activation="relu", name="fc1")
            self.fc2 = keras.layers.Dense(d, name="fc2")

        def call(self, h: Any) -> Any:
            return h + self.fc2(self.fc1(self.norm(h)))

    inp = keras.Input((None,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(TRANSFORMER_VOCAB, d, name="embed")(inp)
    # a Sequential "blocks" of layers "0", "1", ... (torch's ModuleList names); a layer named
    # "blocks.0" would give the same canonical names but the torch backend refuses "." in names
    h = keras.Sequential([Block(str(i)) for i in range(TRANSFORMER_BLOCKS)], name="blocks")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    out = keras.layers.Dense(TRANSFORMER_CLASSES, name="head")(h)
    return keras.Model(inp, out, name="transformer")


#: Framework-neutral name -> builder (``seed`` keyword); the same names as :data:`lrspec_torch.examples.EXAMPLES`.
EXAMPLES: dict[str, Callable[..., Any]] = {
    "mnist_cnn": mnist_cnn,
    "lenet": lenet,
    "convnet6": convnet6,
    "transformer": transformer,
}
