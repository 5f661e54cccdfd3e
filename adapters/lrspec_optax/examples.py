"""The bundled example models as JAX parameter pytrees (flax-style names, no flax needed).

Twins of :mod:`lrspec_torch.examples` and :mod:`lrspec_tf.examples`: the same layers under the same names, with flax's leaf names
(``kernel``/``bias`` for dense and conv layers, ``embedding``, LayerNorm ``scale``/``bias``) and
layouts (conv kernels HWIO, dense kernels (in, out)), so framework-neutral patterns
(``conv*``, ``fc1.*``, ``*.bias``, ``features.*``, ``blocks.{i}.*``) select the same parameters
as in torch and Keras. Each builder returns a nested dict of jax arrays (what a flax linen
model's ``variables["params"]`` holds) initialised from ``seed`` (NumPy's generator: LeCun-normal
kernels, zero biases; ``seed=None``: unseeded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

TRANSFORMER_VOCAB = 50
TRANSFORMER_DIM = 16
TRANSFORMER_BLOCKS = 4
TRANSFORMER_CLASSES = 5

__all__ = ["EXAMPLES", "convnet6", "lenet", "mnist_cnn", "transformer"]


class _Init:
    def __init__(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def kernel(self, *shape: int) -> Any:
        import jax.numpy as jnp

        fan_in = 1
        for d in shape[:-1]:
            fan_in *= d
        return jnp.asarray((self._rng.standard_normal(shape) * (1.0 / fan_in) ** 0.5).astype(np.float32))

    def layer(self, *shape: int) -> dict[str, Any]:
        import jax.numpy as jnp

        return {"kernel": self.kernel(*shape), "bias": jnp.zeros((shape[-1],))}


def mnist_cnn(seed: int | None = 0) -> dict[str, Any]:
    """Twin of :func:`lrspec_torch.examples.mnist_cnn_torch`: conv1 5x5x1x20, conv2 5x5x20x40,
    fc1 1960 -> 1024, fc2 1024 -> 10."""
    i = _Init(seed)
    return {
        "conv1": i.layer(5, 5, 1, 20),
        "conv2": i.layer(5, 5, 20, 40),
        "fc1": i.layer(7 * 7 * 40, 1024),
        "fc2": i.layer(1024, 10),
    }


def convnet6(seed: int | None = 0) -> dict[str, Any]:
    """Twin of :func:`lrspec_torch.examples.convnet6_torch`: conv1..conv5 (3x3), fc6 256 -> 10."""
    i = _Init(seed)
    chans = [3, 8, 8, 16, 16, 16]
    out: dict[str, Any] = {f"conv{k + 1}": i.layer(3, 3, chans[k], chans[k + 1]) for k in range(5)}
    out["fc6"] = i.layer(16 * 4 * 4, 10)
    return out


def lenet(seed: int | None = 0) -> dict[str, Any]:
    """Twin of :func:`lrspec_torch.examples.lenet_torch`: ``features.0``/``features.3`` convs,
    ``classifier.0``/``.2``/``.4`` dense layers (dict keys named by the torch index)."""
    i = _Init(seed)
    return {
        "features": {"0": i.layer(5, 5, 3, 6), "3": i.layer(5, 5, 6, 16)},
        "classifier": {"0": i.layer(400, 120), "2": i.layer(120, 84), "4": i.layer(84, 10)},
    }


def transformer(seed: int | None = 0) -> dict[str, Any]:
    """Twin of :func:`lrspec_torch.examples.transformer_torch`: ``embed.embedding``, ``blocks`` (a
    list: ``blocks.{i}.norm.scale|bias``, ``blocks.{i}.fc1|fc2.kernel|bias``), ``head``."""
    import jax.numpy as jnp

    i = _Init(seed)
    d = TRANSFORMER_DIM
    blocks = [
        {"norm": {"scale": jnp.ones((d,)), "bias": jnp.zeros((d,))}, "fc1": i.layer(d, 2 * d), "fc2": i.layer(2 * d, d)}
        for _ in range(TRANSFORMER_BLOCKS)
    ]
    return {
        "embed": {"embedding": i.kernel(TRANSFORMER_VOCAB, d)},
        "blocks": blocks,
        "head": i.layer(d, TRANSFORMER_CLASSES),
    }


EXAMPLES: dict[str, Callable[..., Any]] = {
    "mnist_cnn": mnist_cnn,
    "convnet6": convnet6,
    "lenet": lenet,
    "transformer": transformer,
}
