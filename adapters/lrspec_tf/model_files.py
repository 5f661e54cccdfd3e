"""Keras / TensorFlow model files, now in :mod:`lrspec_keras.model_files` (re-exported here)."""

from __future__ import annotations

from lrspec_keras.model_files import (
    ModelFileShapes,
    checkpoint_prefix,
    is_tf_checkpoint,
    keras_variable_paths,
    read_model_file,
)

__all__ = ["ModelFileShapes", "checkpoint_prefix", "is_tf_checkpoint", "keras_variable_paths", "read_model_file"]
