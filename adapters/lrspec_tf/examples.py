"""The bundled Keras example models, now in :mod:`lrspec_keras.examples` (re-exported here, so
``--model lrspec_tf.examples:mnist_cnn`` keeps working)."""

from __future__ import annotations

from lrspec_keras.examples import (  # noqa: F401
    EXAMPLES,
    TRANSFORMER_BLOCKS,
    TRANSFORMER_CLASSES,
    TRANSFORMER_DIM,
    TRANSFORMER_VOCAB,
    convnet6,
    lenet,
    mnist_cnn,
    transformer,
)

__all__ = ["EXAMPLES", "convnet6", "lenet", "mnist_cnn", "transformer"]
