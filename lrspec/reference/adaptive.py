"""NAdam, RAdam, Adamax and Adadelta in NumPy float64, exactly as ``torch.optim`` 2.13 defines
them (single-tensor path, operation by operation; conventions in :mod:`lrspec.reference`).

Every function takes ``(param, grad, state, *, lr, weight_decay, <hyperparameters>)``, returns
the new parameter (the input is not modified) and updates ``state`` in place; ``s`` is the
parameter's step count after its increment (1 at its first update).
"""

from __future__ import annotations

import numpy as np

from lrspec.reference.state import Array, OptimizerState, coupled, lerp

__all__ = ["adadelta_step", "adamax_step", "nadam_step", "radam_step"]


def _decay(param: Array, grad: Array, lr: float, weight_decay: float, decoupled: bool) -> tuple[Array, Array]:
    """torch's two conventions: decoupled ``p = p*(1 - lr*wd)``, else coupled ``g = grad + wd*p``
    (neither when ``wd == 0``). Returns ``(param, g)``."""
    if weight_decay != 0:
        if decoupled:
            return param * (1 - lr * weight_decay), grad
        return param, grad + weight_decay * param
    return param, grad


def nadam_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
) -> Array:
    """torch.optim.NAdam, one update; returns the new parameter.

    ``bc2 = 1 - beta2**s``; decay (decoupled ``p *= 1 - lr*wd`` or coupled ``g = grad + wd*p``);
    ``mu = beta1*(1 - 0.5*0.96**(s*momentum_decay))``,
    ``mu_next = beta1*(1 - 0.5*0.96**((s+1)*momentum_decay))``;
    ``mu_product = mu_product*mu`` (state, starts at 1; torch keeps it as a tensor of
    ``torch.get_default_dtype()`` precision when that is float64, else float32: this reference
    keeps float64); ``m = lerp(m, g, 1 - beta1)``; ``v = beta2*v + (1 - beta2)*g*g``;
    ``den = sqrt(v/bc2) + eps``;
    ``p = p - lr*(1 - mu)/(1 - mu_product) * g/den - lr*mu_next/(1 - mu_product*mu_next) * m/den``.
    """
    beta1, beta2 = float(betas[0]), float(betas[1])
    state.step += 1
    s = float(state.step)
    bias_correction2 = 1 - beta2**s
    param, g = _decay(param, grad, lr, weight_decay, bool(decoupled_weight_decay))
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (s * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((s + 1) * momentum_decay)))
    mu_product = float(state.buffers["mu_product"]) * mu
    state.buffers["mu_product"] = np.array(mu_product, dtype=np.float64)
    m = lerp(state.buffers["exp_avg"], g, 1 - beta1)
    v = state.buffers["exp_avg_sq"] * beta2 + ((1 - beta2) * g) * g
    state.buffers["exp_avg"] = m
    state.buffers["exp_avg_sq"] = v
    denom = np.sqrt(v / bias_correction2) + eps
    mu_product_next = mu_product * mu_next
    param = param + ((-lr * (1.0 - mu) / (1.0 - mu_product)) * g) / denom
    result: Array = param + (((-lr * mu_next) / (1.0 - mu_product_next)) * m) / denom
    return result


def radam_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    decoupled_weight_decay: bool = False,
) -> Array:
    """torch.optim.RAdam, one update; returns the new parameter.

    Decay as NAdam; ``m = lerp(m, g, 1 - beta1)``; ``v = beta2*v + (1 - beta2)*g*g``;
    ``bc1 = 1 - beta1**s``, ``bc2 = 1 - beta2**s``; ``rho_inf = 2/(1 - beta2) - 1``,
    ``rho_t = rho_inf - 2*s*beta2**s/bc2``. If ``rho_t > 5`` (the rectification switch, a
    Python float comparison as torch's non-capturable path):
    ``r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))`` and
    ``p = p - (m/bc1) * lr * (sqrt(bc2)/(sqrt(v) + eps)) * r``; else ``p = p - (m/bc1) * lr``
    (SGD with momentum, no adaptive term). With the default betas the switch is crossed
    between updates 5 and 6.
    """
    beta1, beta2 = float(betas[0]), float(betas[1])
    state.step += 1
    s = float(state.step)
    param, g = _decay(param, grad, lr, weight_decay, bool(decoupled_weight_decay))
    m = lerp(state.buffers["exp_avg"], g, 1 - beta1)
    v = state.buffers["exp_avg_sq"] * beta2 + ((1 - beta2) * g) * g
    state.buffers["exp_avg"] = m
    state.buffers["exp_avg_sq"] = v
    bias_correction1 = 1 - beta1**s
    bias_correction2 = 1 - beta2**s
    bias_corrected_exp_avg = m / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * s * (beta2**s) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive_lr = (bias_correction2**0.5) / (np.sqrt(v) + eps)
        rectified: Array = param - bias_corrected_exp_avg * lr * adaptive_lr * rect
        return rectified
    result: Array = param - bias_corrected_exp_avg * lr
    return result


def adamax_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Array:
    """torch.optim.Adamax, one update; returns the new parameter.

    ``g = grad + wd*p``; ``m = lerp(m, g, 1 - beta1)``;
    ``u = max(beta2*u, |g| + eps)`` (torch's ``exp_inf``; eps inside the max, elementwise);
    ``p = p - lr/(1 - beta1**s) * m/u``.
    """
    beta1, beta2 = float(betas[0]), float(betas[1])
    state.step += 1
    s = float(state.step)
    g = coupled(grad, param, weight_decay)
    m = lerp(state.buffers["exp_avg"], g, 1 - beta1)
    exp_inf = np.maximum(state.buffers["exp_inf"] * beta2, np.abs(g) + eps)
    state.buffers["exp_avg"] = m
    state.buffers["exp_inf"] = exp_inf
    clr = lr / (1 - beta1**s)
    result: Array = param + ((-clr) * m) / exp_inf
    return result


def adadelta_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.0,
    rho: float = 0.9,
    eps: float = 1e-6,
) -> Array:
    """torch.optim.Adadelta, one update; returns the new parameter.

    ``g = grad + wd*p``; ``v = rho*v + (1 - rho)*g*g`` (``square_avg``);
    ``delta = sqrt(u + eps)/sqrt(v + eps) * g`` with ``u`` the ``acc_delta`` before this update;
    ``u = rho*u + (1 - rho)*delta*delta``; ``p = p - lr*delta``. (torch counts ``step`` but
    the rule does not read it.)
    """
    state.step += 1
    g = coupled(grad, param, weight_decay)
    square_avg = state.buffers["square_avg"] * rho + ((1 - rho) * g) * g
    std = np.sqrt(square_avg + eps)
    delta = np.sqrt(state.buffers["acc_delta"] + eps) / std * g
    acc_delta = state.buffers["acc_delta"] * rho + ((1 - rho) * delta) * delta
    state.buffers["square_avg"] = square_avg
    state.buffers["acc_delta"] = acc_delta
    result: Array = param + (-lr) * delta
    return result
