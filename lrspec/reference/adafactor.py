"""Adafactor in NumPy float64, exactly as ``torch.optim.Adafactor`` 2.13 defines it
(``torch/optim/_adafactor.py``, single-tensor path, operation by operation).

torch's Adafactor differs from the paper (and from optax/Keras) in where ``eps1`` enters and
in using ``lr`` both as the cap of the relative step size and as the weight-decay coefficient;
see :func:`adafactor_step`.
"""

from __future__ import annotations

import numpy as np

from lrspec.reference.state import Array, OptimizerState, lerp

__all__ = ["adafactor_eps1", "adafactor_init", "adafactor_step"]

_MACHINE_EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}


def adafactor_eps1(eps1: float | None, run_dtype: str = "float64") -> float:
    """torch's ``eps1``: the given value, or when None ``torch.finfo(param.dtype).eps`` of the
    run's dtype (2.22e-16 for float64, 1.19e-7 for float32)."""
    if eps1 is not None:
        return float(eps1)
    if run_dtype not in _MACHINE_EPS:
        raise ValueError(f"run_dtype must be 'float32' or 'float64', got {run_dtype!r}")
    return _MACHINE_EPS[run_dtype]


def adafactor_init(param: Array) -> dict[str, Array]:
    """torch's fresh buffers: for ``ndim >= 2`` ``row_var`` (the shape with the last dimension
    1) and ``col_var`` (the second-to-last dimension 1), zeros; else ``variance``, zeros like
    the parameter."""
    if param.ndim > 1:
        row_shape = list(param.shape)
        row_shape[-1] = 1
        col_shape = list(param.shape)
        col_shape[-2] = 1
        return {"row_var": np.zeros(row_shape), "col_var": np.zeros(col_shape)}
    return {"variance": np.zeros_like(param)}


def _norm(x: Array) -> float:
    """``x.norm(2).item()``."""
    return float(np.sqrt(np.sum(x * x)))


def adafactor_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    run_dtype: str = "float64",
) -> Array:
    """torch.optim.Adafactor, one update; returns the new parameter.

    With ``s`` the step count after increment and ``eps1`` from :func:`adafactor_eps1`
    (None: the machine epsilon of ``run_dtype``, the dtype of the run this stands for):

    * ``w = s**beta2_decay`` (``1 - beta2_t``); ``rho = min(lr, 1/sqrt(s))``;
      ``alpha = max(eps2, RMS(p)) * rho`` with RMS of the parameter *before* weight decay;
    * decoupled decay ``p = p*(1 - lr*wd)`` (when ``wd != 0``);
    * ``ndim >= 2`` (factored over the last two dimensions, leading ones are a batch):
      ``R = lerp(R, mean(g*g, -1), w)``, ``C = lerp(C, mean(g*g, -2), w)``,
      ``V = (R @ C) / max(mean(R, -2), eps1)``; else ``V = lerp(V, g*g, w)`` (state) and a copy;
    * ``U = g / sqrt(max(V, eps1**2))``; ``p = p - alpha/max(1, RMS(U)/d) * U``.

    At ``s = 1`` the weight ``w`` is 1, so the factors are the first squared-gradient means.
    """
    eps1 = adafactor_eps1(eps[0], run_dtype)
    eps2 = float(eps[1])
    state.step += 1
    s = float(state.step)
    one_minus_beta2_t = s**beta2_decay
    rho_t = min(lr, 1 / (s**0.5))
    alpha = max(eps2, _norm(param) / (param.size**0.5)) * rho_t
    if weight_decay != 0:
        param = param * (1 - lr * weight_decay)
    if grad.ndim > 1:
        row_mean = np.linalg.norm(grad, axis=-1, keepdims=True) ** 2 / grad.shape[-1]
        row_var = lerp(state.buffers["row_var"], row_mean, one_minus_beta2_t)
        col_mean = np.linalg.norm(grad, axis=-2, keepdims=True) ** 2 / grad.shape[-2]
        col_var = lerp(state.buffers["col_var"], col_mean, one_minus_beta2_t)
        state.buffers["row_var"] = row_var
        state.buffers["col_var"] = col_var
        var_estimate = np.matmul(row_var, col_var) / np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)
    else:
        variance = lerp(state.buffers["variance"], grad * grad, one_minus_beta2_t)
        state.buffers["variance"] = variance
        var_estimate = variance.copy()
    update = 1.0 / np.sqrt(np.maximum(var_estimate, eps1 * eps1)) * grad
    denom = max(1.0, _norm(update) / ((update.size**0.5) * d))
    result: Array = param + (-alpha / denom) * update
    return result
