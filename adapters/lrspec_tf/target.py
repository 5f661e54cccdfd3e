"""The ``tf-v1`` target (``lrspec_tf.target:TF_V1_TARGET``) and ``tf``, an alias of ``keras``.

``TF_TARGET`` is :class:`lrspec_keras.target.KerasTarget` named ``tf`` (Keras 3 on any backend).

``parameters(model)`` accepts a Keras model/layer (its ``trainable_variables``), a ``tf.Module``,
or a list of variables, and returns canonical names mapped to shapes, in model order: for a
Keras model the layer-tree name (layer names from the root, excluded, then the variable's
name, ``.``-joined; stable across ``load_model`` and processes), else ``variable.path`` or the
tf.Variable name with a trailing ``:N`` removed and ``/`` -> ``.`` (the rule of
:mod:`lrspec_tf._common`). Importing this module does not import TensorFlow; each
method imports what it needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from lrspec_keras.target import KerasTarget

from lrspec.plan import Plan
from lrspec.targets import Array, ParamShapes, Target, VerifyDriver

__all__ = ["TF_TARGET", "TF_V1_TARGET", "TfTarget", "TfV1Target"]


class _TensorFlowTarget(Target):
    """What ``tf`` and ``tf-v1`` share: naming, parameters, model files, example models."""

    extra = "lrspec[tf]"
    model_description = "a Keras model"
    model_suffixes = (".keras", ".weights.h5")

    def canonical_name(self, native_name: str) -> str:
        """``features/0/kernel:0`` -> ``features.0.kernel`` (:func:`lrspec_tf._common.canonical_path`)."""
        from lrspec_tf._common import canonical_path

        return canonical_path(native_name)

    def parameters(self, model: Any) -> ParamShapes:
        from lrspec_keras.builder import param_shapes

        return param_shapes(model)

    def accepts(self, model: Any) -> bool:
        keras = sys.modules.get("keras")
        if keras is not None and isinstance(model, keras.layers.Layer):
            return True
        tf = sys.modules.get("tensorflow")
        return tf is not None and isinstance(model, tf.Module)

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


class TfV1Target(_TensorFlowTarget):
    """Target ``tf-v1``: tf.compat.v1 graph ops (one gradient pass, one apply op per group).

    It emits no code: graph-mode code depends on how the caller builds its graph."""

    name = "tf-v1"
    requires = ("tensorflow",)

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        """Options: ``strategy``, ``allow_inexact`` (as for ``tf``), ``name`` (a name scope)."""
        from lrspec_tf.builder import compile_v1

        return compile_v1(plan, model, **options)

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        from lrspec_tf.verify_driver import GraphDriver

        return GraphDriver(self, plan, init, options)


TF_TARGET = KerasTarget("tf")
"""Target ``tf``: the ``keras`` target under its alias (:class:`lrspec_keras.target.KerasTarget`)."""
TfTarget = KerasTarget
TF_V1_TARGET = TfV1Target()
