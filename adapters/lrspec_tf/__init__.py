"""lrspec targets for TensorFlow: ``tf`` (Keras 3 optimizers) and ``tf-v1`` (tf.compat.v1 graphs).

Importing this package does not import TensorFlow; the submodules do. Public names:

* :data:`TF_TARGET`, :data:`TF_V1_TARGET` (in :mod:`lrspec_tf.target`): the registered targets.
* :func:`lr_mult`: a ``tf.custom_gradient`` identity whose gradient is multiplied by ``alpha``
  (the classic gradient-scaling idiom; exact as an lr multiplier only for SGD without weight decay).
* The optimizer classes ``TorchSGD``, ``TorchAdam``, ``TorchAdamW``, ``TorchRMSprop``,
  ``TorchAdagrad`` (in :mod:`lrspec_tf.keras_optimizers`).
* :func:`register_keras_objects`: registers those classes and ``GroupSchedule`` with Keras's
  serialization (needed to load a ``.keras`` file holding an lrspec optimizer).

``import lrspec_tf`` registers them by itself, without importing TensorFlow early: at once
when Keras is already imported, else as soon as Keras's import completes (a one-shot import
hook on the ``keras`` module; if TensorFlow is still being imported at that moment, at the
next import after it finished). So a fresh process loads a ``.keras`` file with::

    import keras, lrspec_tf
    model = keras.models.load_model("model.keras")
"""

from __future__ import annotations

import sys
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
    """Register lrspec's Keras classes (the ``Torch*`` optimizers, ``GroupSchedule``) with Keras's
    serialization. Imports TensorFlow and Keras; idempotent."""
    import lrspec_tf.keras_optimizers
    import lrspec_tf.native  # noqa: F401


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is None or bool(getattr(spec, "_initializing", False))


def _try_register(done: str = "") -> bool:
    """Register when Keras (and TensorFlow, when it is being imported) are fully imported;
    ``done``: a module whose code has just finished running. False when it is too early."""
    watched = ["keras"] + (["tensorflow"] if "tensorflow" in sys.modules else [])
    if any(name != done and _initializing(name) for name in watched):
        return False
    import contextlib

    # a broken TF install must not break `import keras`; loading the file will say what is wrong
    with contextlib.suppress(Exception):
        register_keras_objects()
    return True


class _RegisterAfterKeras:
    """A ``sys.meta_path`` finder that registers lrspec's classes as soon as Keras is fully
    imported: it wraps the loaders of ``keras`` and ``tensorflow`` (``import tensorflow``
    imports Keras, and Keras TensorFlow) and tries after each finished; it then removes itself."""

    def __init__(self) -> None:
        self.done = False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if self.done or fullname not in ("keras", "tensorflow"):
            return None
        import importlib.util

        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            if not self.done:
                sys.meta_path.insert(0, self)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            if not self.done and _try_register(done=fullname):
                self.done = True
                if self in sys.meta_path:
                    sys.meta_path.remove(self)

        loader.exec_module = exec_module
        return spec


if "keras" in sys.modules and _try_register():
    pass
elif not any(type(f).__name__ == "_RegisterAfterKeras" for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())
