"""Small example models shipped with lrspec, built identically in PyTorch and Keras 3.

Layer names are chosen so that the canonical parameter names mirror each other across
frameworks (torch ``conv1.weight`` <-> Keras ``conv1.kernel``; both ``conv1.bias``), which
lets one spec with framework-neutral patterns (``conv*``, ``fc1.*``, ``*.bias``,
``features.*``) select the same parameters in both. They back the bundled examples
(``lrspec compile examples/finetune_cnn.yaml --target torch --model lrspec.examples:mnist_cnn_torch``)
and the cross-framework test suite.

Frameworks are imported inside the functions: importing this module imports neither.
Layout notes for copying weights across: torch conv kernels are OIHW and Keras HWIO; torch
dense weights are (out, in) and Keras kernels (in, out); torch flattens CHW, Keras HWC.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "convnet6_keras",
    "convnet6_torch",
    "lenet_keras",
    "lenet_torch",
    "mnist_cnn_keras",
    "mnist_cnn_torch",
    "transformer_keras",
    "transformer_torch",
]

TRANSFORMER_VOCAB = 50
TRANSFORMER_DIM = 16
TRANSFORMER_BLOCKS = 4
TRANSFORMER_CLASSES = 5


def _torch_seed(seed: int | None) -> None:
    if seed is not None:
        import torch

        torch.manual_seed(seed)


def mnist_cnn_torch(seed: int | None = 0) -> Any:
    """The two-conv, two-dense MNIST network: conv1 5x5x1x20, conv2 5x5x20x40 (both 'same'
    padding, each followed by ReLU and 2x2 max-pooling), fc1 7*7*40 -> 1024, fc2 1024 -> 10.
    Input (N, 1, 28, 28)."""
    import torch
    from torch import nn

    _torch_seed(seed)

    class MnistCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 20, 5, padding=2)
            self.conv2 = nn.Conv2d(20, 40, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 40, 1024)
            self.fc2 = nn.Linear(1024, 10)

        def forward(self, x: torch.Tensor) -> Any:
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
            x = torch.relu(self.fc1(torch.flatten(x, 1)))
            return self.fc2(x)

    return MnistCNN()


def mnist_cnn_keras(seed: int | None = 0) -> Any:
    """Keras twin of :func:`mnist_cnn_torch` (functional model, input (N, 28, 28, 1));
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


def convnet6_torch(seed: int | None = 0) -> Any:
    """Five 'pretrained' 3x3 conv layers conv1..conv5 (3 -> 8 -> 8 -> 16 -> 16 -> 16, ReLU,
    a 2x2 max-pool after conv2 and conv4) and a new sixth layer fc6 (16*4*4 -> 10).
    Input (N, 3, 16, 16)."""
    import torch
    from torch import nn

    _torch_seed(seed)

    class ConvNet6(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.conv3 = nn.Conv2d(8, 16, 3, padding=1)
            self.conv4 = nn.Conv2d(16, 16, 3, padding=1)
            self.conv5 = nn.Conv2d(16, 16, 3, padding=1)
            self.fc6 = nn.Linear(16 * 4 * 4, 10)

        def forward(self, x: torch.Tensor) -> Any:
            x = torch.relu(self.conv1(x))
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
            x = torch.relu(self.conv3(x))
            x = torch.max_pool2d(torch.relu(self.conv4(x)), 2)
            x = torch.relu(self.conv5(x))
            return self.fc6(torch.flatten(x, 1))

    return ConvNet6()


def convnet6_keras(seed: int | None = 0) -> Any:
    """Keras twin of :func:`convnet6_torch` (input (N, 16, 16, 3))."""
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


def lenet_torch(seed: int | None = 0) -> Any:
    """LeNet-style network: ``features`` = conv 3->6 5x5, ReLU, pool, conv 6->16 5x5, ReLU, pool;
    ``classifier`` = dense 400->120, ReLU, 120->84, ReLU, 84->10. Input (N, 3, 32, 32).
    Parameter names ``features.0.*``, ``features.3.*``, ``classifier.0.*``, ``classifier.2.*``,
    ``classifier.4.*``."""
    from torch import nn

    _torch_seed(seed)

    class LeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2)
            )
            self.classifier = nn.Sequential(
                nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)
            )

        def forward(self, x: Any) -> Any:
            return self.classifier(self.features(x).flatten(1))

    return LeNet()


def lenet_keras(seed: int | None = 0) -> Any:
    """Keras twin of :func:`lenet_torch` (input (N, 32, 32, 3)); nested Sequentials named
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


def transformer_torch(seed: int | None = 0) -> Any:
    """A transformer-style stack for layer-wise decay: ``embed`` (vocab 50, dim 16), four
    residual MLP blocks ``blocks.{i}`` (``norm`` LayerNorm eps 1e-5, ``fc1`` 16->32, ReLU,
    ``fc2`` 32->16), mean over tokens, ``head`` 16->5. Input: int64 token ids (N, L)."""
    import torch
    from torch import nn

    _torch_seed(seed)
    d = TRANSFORMER_DIM

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(d, eps=1e-5)
            self.fc1 = nn.Linear(d, 2 * d)
            self.fc2 = nn.Linear(2 * d, d)

        def forward(self, h: torch.Tensor) -> Any:
            return h + self.fc2(torch.relu(self.fc1(self.norm(h))))

    class TinyTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(TRANSFORMER_VOCAB, d)
            self.blocks = nn.ModuleList([Block() for _ in range(TRANSFORMER_BLOCKS)])
            self.head = nn.Linear(d, TRANSFORMER_CLASSES)

        def forward(self, tokens: torch.Tensor) -> Any:
            h = self.embed(tokens)
            for block in self.blocks:
                h = block(h)
            return self.head(h.mean(dim=1))

    return TinyTransformer()


def transformer_keras(seed: int | None = 0) -> Any:
    """Keras twin of :func:`transformer_torch`; variable paths ``embed/embeddings``,
    ``blocks.{i}/norm/gamma|beta``, ``blocks.{i}/fc1/kernel|bias``, ``head/kernel|bias``."""
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
    for i in range(TRANSFORMER_BLOCKS):
        h = Block(f"blocks.{i}")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    out = keras.layers.Dense(TRANSFORMER_CLASSES, name="head")(h)
    return keras.Model(inp, out, name="transformer")
