"""The bundled example models, PyTorch side (twins of :mod:`lrspec_tf.examples`).

Layer names are chosen so that the canonical parameter names mirror the Keras twins' (torch
``conv1.weight`` <-> Keras ``conv1.kernel``; both ``conv1.bias``), which lets one spec with
framework-neutral patterns (``conv*``, ``fc1.*``, ``*.bias``, ``features.*``) select the same
parameters in both. They back the bundled examples
(``lrspec compile examples/finetune_cnn.yaml --target torch --model lrspec_torch.examples:mnist_cnn``)
and the cross-framework test suite. :data:`EXAMPLES` maps the framework-neutral names to the
builders (:meth:`lrspec.targets.Target.example_models`); each builder takes ``seed``
(``torch.manual_seed`` before the layers are made; None leaves the global RNG alone).

torch is imported inside the functions: importing this module does not import it. Layout
notes for copying weights to the Keras twins: torch conv kernels are OIHW and Keras HWIO;
torch dense weights are (out, in) and Keras kernels (in, out); torch flattens CHW, Keras HWC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EXAMPLES", "convnet6", "lenet", "mnist_cnn", "transformer"]

TRANSFORMER_VOCAB = 50
TRANSFORMER_DIM = 16
TRANSFORMER_BLOCKS = 4
TRANSFORMER_CLASSES = 5


def _torch_seed(seed: int | None) -> None:
    if seed is not None:
        import torch

        torch.manual_seed(seed)


def mnist_cnn(seed: int | None = 0) -> Any:
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


def convnet6(seed: int | None = 0) -> Any:
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


def lenet(seed: int | None = 0) -> Any:
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


def transformer(seed: int | None = 0) -> Any:
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


#: Framework-neutral name -> builder (``seed`` keyword); the same names as :data:`lrspec_tf.examples.EXAMPLES`.
EXAMPLES: dict[str, Callable[..., Any]] = {
    "mnist_cnn": mnist_cnn,
    "lenet": lenet,
    "convnet6": convnet6,
    "transformer": transformer,
}
