"""The Keras optimizer classes, now in :mod:`lrspec_keras.optimizers` (this module re-exports them).

They are the same class objects (registered with Keras as ``lrspec>TorchAdam`` etc.), so code
importing ``lrspec_tf.keras_optimizers`` and ``.keras`` files saved with them keep working.
"""

from __future__ import annotations

from lrspec_keras.optimizers import (  # noqa: F401
    FAMILY_CLASSES,
    STRATEGIES,
    LrspecOptimizer,
    TorchAdadelta,
    TorchAdafactor,
    TorchAdagrad,
    TorchAdam,
    TorchAdamax,
    TorchAdamW,
    TorchMuon,
    TorchNAdam,
    TorchRAdam,
    TorchRMSprop,
    TorchSGD,
)

__all__ = [
    "FAMILY_CLASSES",
    "LrspecOptimizer",
    "TorchAdagrad",
    "TorchAdam",
    "TorchAdamW",
    "TorchRMSprop",
    "TorchSGD",
]
