"""Result objects of the Keras target, now in :mod:`lrspec_keras.compiled` (re-exported here;
``tf-v1`` uses :func:`describe_plan`)."""

from __future__ import annotations

from lrspec_keras.compiled import CompiledKeras, CompiledTF, describe_plan

__all__ = ["CompiledKeras", "CompiledTF", "describe_plan"]
