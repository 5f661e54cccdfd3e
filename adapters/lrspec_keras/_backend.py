"""What differs between Keras backends, in one place: scalar dtypes and small tensor helpers.

* Scalar coefficients of the update rules (lr, schedule values, bias corrections) are computed
  in float64 where the backend has float64 (TensorFlow, torch, JAX with ``jax_enable_x64``) and
  in float32 otherwise (JAX's default silently downcasts float64 to float32). The rules use
  formulas that stay at float32 roundoff (``1 - b**s`` as ``-expm1(s*log b)``, the cosine as a
  squared cosine), so float32 scalars are still exact to roundoff.
* ``keras.ops.cos`` on JAX (Keras 3.15) returns float32 for a float64 input: :func:`cos` calls
  ``jax.numpy.cos`` there.
  ``keras.ops.maximum``/``minimum`` on torch return float32 for float64 inputs: :func:`maximum`/:func:`minimum` call
  ``torch.maximum``/``torch.minimum`` there, and ``keras.ops.matmul`` on torch returns float32 for
  float64 inputs: :func:`matmul` calls ``torch.matmul`` there.
* Integer step counters are int64 where float64 exists, else int32.
"""

from __future__ import annotations

import sys
from typing import Any

import keras
from keras import ops

__all__ = ["backend", "const", "cos", "maximum", "minimum", "float64_available", "int_dtype", "matmul", "is_tensorflow", "scalar_dtype", "tensor"]


def backend() -> str:
    """The Keras backend in use: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return str(keras.backend.backend())


def is_tensorflow() -> bool:
    return backend() == "tensorflow"


def float64_available() -> bool:
    """True unless the backend is JAX without ``jax_enable_x64``."""
    if backend() != "jax":
        return True
    jax = sys.modules.get("jax")
    return bool(jax is not None and jax.config.read("jax_enable_x64"))


def scalar_dtype() -> str:
    """The dtype scalar coefficients are computed in (see the module docstring)."""
    return "float64" if float64_available() else "float32"


def int_dtype() -> str:
    """The dtype of integer step counters."""
    return "int64" if float64_available() else "int32"


def const(x: float, dtype: str) -> Any:
    """A scalar constant created directly in ``dtype`` (never rounded through float32)."""
    return ops.convert_to_tensor(float(x), dtype=dtype)


def tensor(x: Any) -> Any:
    """A backend tensor for a variable or tensor (JAX needs this before ``ops.where``)."""
    return ops.convert_to_tensor(x)


def cos(x: Any) -> Any:
    """``cos(x)`` in ``x``'s dtype on every backend (see the module docstring)."""
    if backend() == "jax":
        import jax.numpy as jnp

        return jnp.cos(x)
    return ops.cos(x)


def maximum(a: Any, b: Any) -> Any:
    """Elementwise maximum in the inputs' dtype on every backend (see the module docstring)."""
    if backend() == "torch":
        import torch

        return torch.maximum(a, b)
    return ops.maximum(a, b)


def minimum(a: Any, b: Any) -> Any:
    """Elementwise minimum in the inputs' dtype on every backend (see the module docstring)."""
    if backend() == "torch":
        import torch

        return torch.minimum(a, b)
    return ops.minimum(a, b)


def matmul(a: Any, b: Any) -> Any:
    """Matrix product in the inputs' dtype on every backend (see the module docstring)."""
    if backend() == "torch":
        import torch

        return torch.matmul(a, b)
    return ops.matmul(a, b)
