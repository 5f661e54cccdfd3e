"""lrspec's Keras 3 target ``keras`` (alias ``tf``): torch's optimizer rules on every Keras backend.

Importing this package imports no framework; the submodules do. Public names:

* :data:`KERAS_TARGET` / :class:`KerasTarget` (in :mod:`lrspec_keras.target`): the target.
* The optimizer classes ``TorchSGD``, ``TorchAdam``, ``TorchAdamW``, ``TorchRMSprop``,
  ``TorchAdagrad``, ``TorchNAdam``, ``TorchRAdam``, ``TorchAdamax``, ``TorchAdadelta``,
  ``TorchAdafactor``, ``TorchMuon`` (in :mod:`lrspec_keras.optimizers`), written with
  ``keras.ops``: they run under ``KERAS_BACKEND=tensorflow``, ``jax`` and ``torch``.
* :func:`register_keras_objects`: registers those classes and ``GroupSchedule`` with Keras's
  serialization (needed to load a ``.keras`` file holding an lrspec optimizer). They are
  registered as ``lrspec>TorchAdam`` etc., the names the earlier ``lrspec_tf`` classes had,
  so older files load.

``import lrspec_keras`` registers them by itself, without importing Keras early: at once when
Keras is already imported, else as soon as Keras's import completes (a one-shot import hook on
the ``keras`` module; if TensorFlow is still being imported at that moment, at the next import
after it finished). So a fresh process loads a ``.keras`` file with::

    import keras, lrspec_keras
    model = keras.models.load_model("model.keras")
"""

from __future__ import annotations

import sys
from typing import Any

_CLASSES = ("TorchSGD", "TorchAdam", "TorchAdamW", "TorchRMSprop", "TorchAdagrad", "TorchNAdam", "TorchRAdam",
            "TorchAdamax", "TorchAdadelta", "TorchAdafactor", "TorchMuon")

__all__ = ["KERAS_TARGET", "KerasTarget", "register_keras_objects", *_CLASSES]

_LAZY = {
    "KERAS_TARGET": "lrspec_keras.target",
    "KerasTarget": "lrspec_keras.target",
    **{name: "lrspec_keras.optimizers" for name in _CLASSES},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrspec_keras' has no attribute {name!r}")


def register_keras_objects() -> None:
    """Register lrspec's Keras classes (the ``Torch*`` optimizers, ``GroupSchedule``) with Keras's
    serialization. Imports Keras (and its backend); idempotent."""
    import lrspec_keras.native
    import lrspec_keras.optimizers  # noqa: F401


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

    # a broken backend install must not break `import keras`; loading the file will say what is wrong
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
