"""lrspec targets for TensorFlow: ``tf`` (Keras 3 optimizers) and ``tf-v1`` (tf.compat.v1 graphs).

Importing this package does not import TensorFlow; the submodules do. Public names:

* :data:`TF_TARGET`, :data:`TF_V1_TARGET` (in :mod:`lrspec_tf.target`): the registered targets.
* :func:`lr_mult`: a ``tf.custom_gradient`` identity whose gradient is multiplied by ``alpha``
  (the classic gradient-scaling idiom; exact as an lr multiplier only for SGD without weight decay).
* The optimizer classes ``TorchSGD``, ``TorchAdam``, ``TorchAdamW``, ``TorchRMSprop``,
  ``TorchAdagrad`` (in :mod:`lrspec_tf.keras_optimizers`).
* :func:`register_keras_objects`: registers those classes and ``GroupSchedule`` with Keras's
  serialization (needed to load a ``.keras`` file holding an lrspec optimizer).

``import lrspec_tf`` registers them by itself, without importing TensorFlow early, through
``import lrspec_keras`` (whose one-shot import hook registers them as soon as Keras's import
completes). So a fresh process loads a ``.keras`` file with::

    import keras, lrspec_tf
    model = keras.models.load_model("model.keras")
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TF_TARGET",
    "TF_V1_TARGET",
    "TorchAdagrad",
    "TorchAdam",
    "TorchAdamW",
    "TorchRMSprop",
    "TorchSGD",
    "lr_mult",
    "register_keras_objects",
]

_LAZY = {
    "TF_TARGET": "lrspec_tf.target",
    "TF_V1_TARGET": "lrspec_tf.target",
    "lr_mult": "lrspec_tf.gradient_scale",
    "TorchSGD": "lrspec_tf.keras_optimizers",
    "TorchAdam": "lrspec_tf.keras_optimizers",
    "TorchAdamW": "lrspec_tf.keras_optimizers",
    "TorchRMSprop": "lrspec_tf.keras_optimizers",
    "TorchAdagrad": "lrspec_tf.keras_optimizers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrspec_tf' has no attribute {name!r}")


def register_keras_objects() -> None:
    """Register lrspec's Keras classes with Keras's serialization: the same as
    :func:`lrspec_keras.register_keras_objects` (the classes live there now). Imports Keras."""
    from lrspec_keras import register_keras_objects as register

    register()


# importing lrspec_keras (which imports no framework) installs its one-shot registration hook
import lrspec_keras  # noqa: E402,F401
