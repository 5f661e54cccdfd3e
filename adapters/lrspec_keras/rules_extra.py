"""The issue-14 families in ``keras.ops``, with torch 2.13's rules (conventions of :mod:`lrspec_keras.rules`).

Importing this module adds them to :data:`lrspec_keras.rules.RULES`. ``s`` is the parameter's
step count after its increment; powers ``b**s`` are ``exp(s log b)`` in the scalar dtype;
``lerp(a, b, w) = a + w (b - a)``. Decay: decoupled ``p *= 1 - lr wd`` or coupled ``g += wd p``.

* nadam: ``mu = b1 (1 - 0.5*0.96**(s*md))``, ``mu_next`` the same at s+1; ``mu_product *= mu``
  (a per-variable scalar state, in the parameter's dtype as torch keeps it in float32);
  ``m = lerp(m, g, 1-b1)``; ``v = b2 v + (1-b2) g^2``; ``den = sqrt(v/bc2) + eps``;
  ``p -= lr (1-mu)/(1-mu_product) g/den + lr mu_next/(1-mu_product mu_next) m/den``.
* radam: ``rho_inf = 2/(1-b2) - 1``, ``rho_t = rho_inf - 2 s b2**s/bc2``; if ``rho_t > 5``
  ``p -= (m/bc1) lr sqrt(bc2)/(sqrt(v)+eps) r`` with torch's rectification ``r``, else
  ``p -= (m/bc1) lr`` (an ``ops.where`` on the step, so nothing retraces).
* adamax: ``m = lerp(m, g, 1-b1)``; ``u = max(b2 u, |g| + eps)``; ``p -= lr/bc1 m/u``.
* adadelta: ``v = rho v + (1-rho) g^2``; ``d = sqrt(u + eps)/sqrt(v + eps) g``;
  ``u = rho u + (1-rho) d^2``; ``p -= lr d``.
* muon (2-D only): ``B = lerp(B, g, 1-mu)``; ``x = lerp(g, B, mu)`` (nesterov) or ``B``;
  ``O = newton_schulz(x)`` in ``newton_schulz_dtype`` (None: bfloat16, as torch);
  ``p *= 1 - lr wd``; ``p -= adjust_lr(lr) O`` (``sqrt(max(1, A/B))`` or ``0.2 sqrt(max(A, B))``).

* adafactor (torch's variant): ``w = s**beta2_decay``; ``rho = min(lr, 1/sqrt(s))``;
  ``alpha = max(eps2, RMS(p)) rho`` (p before decay); decoupled decay; ndim >= 2:
  ``R = lerp(R, mean(g^2, -1), w)``, ``C = lerp(C, mean(g^2, -2), w)``,
  ``V = R C / max(mean(R, -2), eps1)``, else ``V = lerp(V, g^2, w)``;
  ``U = g / sqrt(max(V, eps1^2))``; ``p -= alpha / max(1, RMS(U)/d) U``; ``eps1 = None`` is the
  machine epsilon of the parameter's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras import ops
from keras.backend import standardize_dtype

from lrspec_keras._backend import const, matmul, maximum, minimum
from lrspec_keras.rules import RULES, Rule, SlotSpec, bias_correction, cast

__all__ = ["newton_schulz"]

Tensor = Any


def _pow(base: float, exponent: Tensor) -> Tensor:
    return ops.exp(exponent * math.log(base))


def _decayed(p: Tensor, g: Tensor, lr: Tensor, wd: float, decoupled: bool) -> tuple[Tensor, Tensor]:
    if wd == 0.0:
        return p, g
    if decoupled:
        return p * cast(1.0 - lr * wd, p.dtype), g
    return p, g + wd * p


def nadam(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor, wd: float,
          hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
    eps, md = float(hyper.get("eps", 1e-8)), float(hyper.get("momentum_decay", 4e-3))
    p, g = _decayed(p, g, lr, wd, bool(hyper.get("decoupled_weight_decay", False)))
    mu = b1 * (1.0 - 0.5 * _pow(0.96, step * md))
    mu_next = b1 * (1.0 - 0.5 * _pow(0.96, (step + 1.0) * md))
    mu_product = cast(state["mu_product"], step.dtype) * mu
    m = state["exp_avg"] + (1.0 - b1) * (g - state["exp_avg"])
    v = b2 * state["exp_avg_sq"] + (1.0 - b2) * (g * g)
    denom = ops.sqrt(v / cast(bias_correction(b2, step), p.dtype)) + eps
    c_g = cast(lr * (1.0 - mu) / (1.0 - mu_product), p.dtype)
    c_m = cast(lr * mu_next / (1.0 - mu_product * mu_next), p.dtype)
    new_p = p - c_g * g / denom - c_m * m / denom
    return new_p, {"exp_avg": m, "exp_avg_sq": v, "mu_product": cast(mu_product, state["mu_product"].dtype)}


def radam(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor, wd: float,
          hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
    eps = float(hyper.get("eps", 1e-8))
    p, g = _decayed(p, g, lr, wd, bool(hyper.get("decoupled_weight_decay", False)))
    m = state["exp_avg"] + (1.0 - b1) * (g - state["exp_avg"])
    v = b2 * state["exp_avg_sq"] + (1.0 - b2) * (g * g)
    bc1, bc2 = bias_correction(b1, step), bias_correction(b2, step)
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    rho_t = rho_inf - 2.0 * step * _pow(b2, step) / bc2
    rectified = rho_t > 5.0
    safe_rho = ops.where(rectified, rho_t, ops.ones_like(rho_t) * 6.0)  # no NaN in the unused branch
    rect = ops.sqrt((safe_rho - 4.0) * (safe_rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho))
    m_hat = m / cast(bc1, p.dtype)
    adaptive = p - m_hat * cast(lr * rect * ops.sqrt(bc2), p.dtype) / (ops.sqrt(v) + eps)
    plain = p - m_hat * cast(lr, p.dtype)
    return ops.where(rectified, adaptive, plain), {"exp_avg": m, "exp_avg_sq": v}


def adamax(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor, wd: float,
           hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
    eps = float(hyper.get("eps", 1e-8))
    g = g + wd * p if wd != 0.0 else g
    m = state["exp_avg"] + (1.0 - b1) * (g - state["exp_avg"])
    u = maximum(state["exp_inf"] * b2, ops.abs(g) + eps)
    return p - cast(lr / bias_correction(b1, step), p.dtype) * m / u, {"exp_avg": m, "exp_inf": u}


def adadelta(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
             hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    rho, eps = float(hyper.get("rho", 0.9)), float(hyper.get("eps", 1e-6))
    g = g + wd * p if wd != 0.0 else g
    v = rho * state["square_avg"] + (1.0 - rho) * (g * g)
    delta = ops.sqrt(state["acc_delta"] + eps) / ops.sqrt(v + eps) * g
    u = rho * state["acc_delta"] + (1.0 - rho) * (delta * delta)
    return p - cast(lr, p.dtype) * delta, {"square_avg": v, "acc_delta": u}


def newton_schulz(G: Tensor, coefficients: Sequence[float] = (3.4445, -4.775, 2.0315), steps: int = 5,
                  eps: float = 1e-7, dtype: str | None = None) -> Tensor:
    """torch's ``_zeropower_via_newtonschulz`` in ``dtype`` (None: bfloat16): ``X = G``
    (transposed when taller than wide) ``/ max(||X||_F, eps)``; ``steps`` times ``A = X X^T``,
    ``X = a X + (b A + c A A) X``; transposed back. Returns a tensor in ``dtype``."""
    a, b, c = (float(x) for x in coefficients)
    x = ops.cast(G, dtype or "bfloat16")
    tall = int(G.shape[0]) > int(G.shape[1])
    if tall:
        x = ops.transpose(x)
    # the norm accumulates in float32 at least (as torch's bfloat16 norm does), then is rounded
    acc = "float64" if standardize_dtype(x.dtype) == "float64" else "float32"
    wide = ops.cast(x, acc)
    norm = ops.cast(ops.sqrt(ops.sum(wide * wide)), x.dtype)
    x = x / maximum(norm, const(eps, standardize_dtype(x.dtype)))
    # bfloat16 as torch's kernels do it: each addmm (``b A + c A A``, ``a X + B X``) and matmul
    # accumulates in float32 and is rounded to bfloat16 once
    acc = "float32" if standardize_dtype(x.dtype) == "bfloat16" else standardize_dtype(x.dtype)
    for _ in range(int(steps)):
        xa = ops.cast(x, acc)
        gram = ops.cast(ops.cast(matmul(xa, ops.transpose(xa)), x.dtype), acc)
        update = ops.cast(ops.cast(b * gram + c * matmul(gram, gram), x.dtype), acc)
        x = ops.cast(a * xa + matmul(update, xa), x.dtype)
    return ops.transpose(x) if tall else x


def muon(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor | None, wd: float,
         hyper: Mapping[str, Any], newton_schulz_dtype: str | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    mu = float(hyper.get("momentum", 0.95))
    buf = state["momentum_buffer"] + (1.0 - mu) * (g - state["momentum_buffer"])
    x = g + mu * (buf - g) if hyper.get("nesterov", True) else buf
    ortho = newton_schulz(x, hyper.get("ns_coefficients", (3.4445, -4.775, 2.0315)), int(hyper.get("ns_steps", 5)),
                          float(hyper.get("eps", 1e-7)), newton_schulz_dtype)
    rows, cols = int(p.shape[0]), int(p.shape[1])
    fn = hyper.get("adjust_lr_fn")
    ratio = 0.2 * math.sqrt(max(rows, cols)) if fn == "match_rms_adamw" else math.sqrt(max(1.0, rows / cols))
    p = p * cast(1.0 - lr * wd, p.dtype)
    return p - cast(lr * ratio, p.dtype) * ops.cast(ortho, p.dtype), {"momentum_buffer": buf}


def _rms(x: Tensor) -> Tensor:
    return ops.sqrt(ops.sum(x * x)) / math.sqrt(max(1, int(np.prod(x.shape))))


def adafactor(p: Tensor, g: Tensor, state: Mapping[str, Tensor], lr: Tensor, step: Tensor, wd: float,
              hyper: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
    eps1, eps2 = hyper.get("eps", (None, 1e-3))
    if eps1 is None:
        eps1 = float(np.finfo(np.dtype(ops.convert_to_numpy(ops.zeros((), p.dtype)).dtype)).eps)
    eps1, eps2 = float(eps1), float(eps2)
    d, bd = float(hyper.get("d", 1.0)), float(hyper.get("beta2_decay", -0.8))
    sd = step.dtype
    w = cast(ops.exp(bd * ops.log(step)), p.dtype)
    rho = minimum(lr, 1.0 / ops.sqrt(step))
    alpha = maximum(ops.cast(_rms(p), sd), const(eps2, standardize_dtype(sd))) * rho
    p = p * cast(1.0 - lr * wd, p.dtype) if wd != 0.0 else p
    gg = g * g
    if len(p.shape) > 1:
        rows = state["row_var"] + w * (ops.sum(gg, axis=-1, keepdims=True) / float(p.shape[-1]) - state["row_var"])
        cols = state["col_var"] + w * (ops.sum(gg, axis=-2, keepdims=True) / float(p.shape[-2]) - state["col_var"])
        floor = const(eps1, standardize_dtype(p.dtype))
        # a sum over n, not ops.mean: Keras 3.15's mean computes float64 in float32 on JAX and torch
        row_mean = ops.sum(rows, axis=-2, keepdims=True) / float(p.shape[-2])
        v = matmul(rows, cols) / maximum(row_mean, floor)
        new_state = {"row_var": rows, "col_var": cols}
    else:
        v = state["variance"] + w * (gg - state["variance"])
        new_state = {"variance": v}
    u = g / ops.sqrt(maximum(v, const(eps1 * eps1, standardize_dtype(p.dtype))))
    denom = maximum(ops.cast(_rms(u), sd) / d, ops.ones_like(rho))
    return p - cast(alpha / denom, p.dtype) * u, new_state


def _adafactor_slots(h: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[SlotSpec, ...]:
    if len(shape) > 1:
        return SlotSpec("row_var", 0.0, "row"), SlotSpec("col_var", 0.0, "col")
    return (SlotSpec("variance"),)


def _slots(*names: str) -> Any:
    return lambda h, shape: tuple(SlotSpec(n) for n in names)


RULES.update({
    "nadam": Rule(lambda h, shape: (SlotSpec("exp_avg"), SlotSpec("exp_avg_sq"), SlotSpec("mu_product", 1.0, "scalar")),
                  lambda h: True, nadam),
    "radam": Rule(_slots("exp_avg", "exp_avg_sq"), lambda h: True, radam),
    "adamax": Rule(_slots("exp_avg", "exp_inf"), lambda h: True, adamax),
    "adadelta": Rule(_slots("square_avg", "acc_delta"), lambda h: False, adadelta),
    "muon": Rule(_slots("momentum_buffer"), lambda h: False, muon),
    "adafactor": Rule(_adafactor_slots, lambda h: True, adafactor),
})
