"""The ``keras`` target (alias ``tf``): Keras 3 optimizers with torch's rules, on every backend.

Registered as ``lrspec_keras.target:KerasTarget`` under both names; ``KerasTarget("tf")`` is
the same target reporting the name ``tf``. ``parameters(model)`` accepts a Keras model/layer,
a ``tf.Module`` (TensorFlow backend) or a list of variables and returns canonical names, in
model order (:mod:`lrspec_keras._names`: layer-tree names for Keras models, stable across
``load_model`` and processes; else ``variable.path`` with ``/`` -> ``.``), mapped to
:class:`lrspec.ParamMeta` (shape and owning layer, :mod:`lrspec_keras.modules`) for a Keras model
or layer and to shapes otherwise. Importing this
module imports no framework; each method imports what it needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from lrspec.plan import Plan
from lrspec.targets import Array, ParamShapes, Target, VerifyDriver

__all__ = ["KERAS_TARGET", "KerasTarget"]


class KerasTarget(Target):
    """Target ``keras`` (alias ``tf``): one Keras optimizer implementing torch's rules per variable."""

    name = "keras"
    extra = "lrspec[keras]"
    requires = ("keras",)
    model_description = "a Keras model"
    model_suffixes = (".keras", ".weights.h5")

    def __init__(self, name: str = "keras") -> None:
        self.name = name

    def canonical_name(self, native_name: str) -> str:
        """``features/0/kernel:0`` -> ``features.0.kernel`` (:func:`lrspec_keras._names.canonical_path`)."""
        from lrspec_keras._names import canonical_path

        return canonical_path(native_name)

    def parameters(self, model: Any) -> ParamShapes:
        """Canonical name -> :class:`lrspec.ParamMeta` (shape and owning layer: type, MRO class
        names, roles) for a Keras model or layer; name -> shape for a ``tf.Module`` or a list of
        variables (:func:`lrspec_keras.modules.param_meta`)."""
        from lrspec_keras.modules import param_meta

        return param_meta(model)

    def accepts(self, model: Any) -> bool:
        keras = sys.modules.get("keras")
        if keras is not None and isinstance(model, keras.layers.Layer):
            return True
        tf = sys.modules.get("tensorflow")
        return tf is not None and isinstance(model, tf.Module)

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        """Options: ``strategy`` (``"multiplier"``, the default, or ``"gradient-scale"``),
        ``allow_inexact`` (accept an inexact gradient-scale plan), ``native`` (a
        ``keras.optimizers.MultiOptimizer`` of stock optimizers), ``newton_schulz_dtype``
        (muon; None = bfloat16 as torch), ``name`` (optimizer name)."""
        from lrspec_keras.builder import compile_keras

        return compile_keras(plan, model, target=self.name, **options)

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        from lrspec_keras.verify_driver import KerasDriver

        return KerasDriver(self, plan, init, options)

    def emit_python(self, plan: Plan, header: str) -> str:
        """A standalone module for the TensorFlow backend (``lrspec_tf.emit``)."""
        from lrspec_tf.emit import emit_module

        return emit_module(plan, header)

    def reads_model_file(self, path: str) -> bool:
        """``.keras``, ``.weights.h5``, or a TensorFlow checkpoint (a prefix with ``.index``
        beside it, or a folder holding a ``checkpoint`` file)."""
        from lrspec_keras.model_files import is_tf_checkpoint

        return super().reads_model_file(path) or is_tf_checkpoint(path)

    def read_model_file(self, path: str) -> ParamShapes:
        from lrspec_keras.model_files import read_model_file

        return read_model_file(path)

    def example_models(self) -> Mapping[str, Callable[..., Any]]:
        from lrspec_keras.examples import EXAMPLES

        return EXAMPLES


KERAS_TARGET = KerasTarget()
