"""torch's NAdam, RAdam, Adamax, Adadelta, Adafactor and Muon as pure functions on TensorFlow
tensors (the families of issue 14); :mod:`lrspec_tf.rules` dispatches to them.

Same conventions as :mod:`lrspec_tf.rules`: ``rule(p, g, state, lr, step, wd, hyper)`` returns
``(new_p, new_state)``; ``lr`` and ``step`` (the parameter's update count including this one)
are float64 scalar tensors and every scalar coefficient is computed in float64 and cast once
to the parameter's dtype, as torch computes them in Python floats. The formulas are those of
:mod:`lrspec.reference` (torch 2.13's single-tensor path):

* nadam: ``mu_s = b1 (1 - 0.5 * 0.96^(s md))``; ``mu_product`` (a float64 scalar slot) ``*= mu_s``;
  ``m = lerp(m, g, 1-b1)``, ``v = b2 v + (1-b2) g^2``, ``den = sqrt(v / (1-b2^s)) + eps``;
  ``p += -lr (1-mu_s)/(1-mu_product) g/den - lr mu_{s+1}/(1-mu_product mu_{s+1}) m/den``.
* radam: ``rho_t = rho_inf - 2 s b2^s/(1-b2^s)``; ``rho_t > 5``:
  ``p -= m/(1-b1^s) lr sqrt(1-b2^s)/(sqrt(v)+eps) r_t``, else ``p -= m/(1-b1^s) lr``.
* adamax: ``u = max(b2 u, |g| + eps)``; ``p -= lr/(1-b1^s) m/u``.
* adadelta: ``v = rho v + (1-rho) g^2``; ``d = sqrt(acc + eps)/sqrt(v + eps) g``;
  ``acc = rho acc + (1-rho) d^2``; ``p -= lr d``.
* adafactor: factored ``row_var``/``col_var`` for ndim >= 2 (last two dimensions), ``variance``
  otherwise; ``w = s^beta2_decay``; ``alpha = max(eps2, RMS(p)) min(lr, 1/sqrt(s))``; decoupled
  decay; ``U = g / sqrt(max(V, eps1^2))``; ``p -= alpha / max(1, RMS(U)/d) U``; ``eps1 = None``
  is the variable dtype's machine epsilon (torch's ``finfo(param.dtype).eps``).
* muon: ``B = lerp(B, g, 1-mu)``; ``u = lerp(g, B, mu)`` (nesterov) or ``B``; Newton-Schulz in
  ``newton_schulz_dtype`` (None: bfloat16 as torch; "float32"/"float64"); decoupled decay
  ``p *= 1 - lr wd``; ``p -= adjust_lr(lr, shape) O``.

Coupled weight decay (``g += wd p``) for nadam/radam without ``decoupled_weight_decay``, adamax
and adadelta; decoupled (``p *= 1 - lr wd``) for adafactor, muon and nadam/radam with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["adadelta", "adafactor", "adamax", "muon", "nadam", "newton_schulz", "radam"]

Tensor = Any
Rule = tuple[Tensor, dict[str, Tensor]]


def _c64(x: float) -> Tensor:
    return tf.constant(float(x), dtype=tf.float64)


def _lerp(start: Tensor, end: Tensor, weight: float) -> Tensor:
    """torch.lerp with a Python-float weight (torch's branch on ``|w| < 0.5``)."""
    w = tf.constant(weight, start.dtype)
    if abs(weight) < 0.5:
        return start + w * (end - start)
    return end - (end - start) * tf.constant(1.0 - weight, start.dtype)


def _lerp_t(start: Tensor, end: Tensor, weight: Tensor) -> Tensor:
    """torch.lerp with a float64 scalar-tensor weight, cast to the operands' dtype."""
    w = tf.cast(weight, start.dtype)
    return tf.where(tf.abs(weight) < 0.5, start + w * (end - start), end - (end - start) * (1 - w))


def _decay(p: Tensor, g: Tensor, lr: Tensor, wd: float, decoupled: bool) -> tuple[Tensor, Tensor]:
    if wd == 0.0:
        return p, g
    if decoupled:
        return p * tf.cast(_c64(1.0) - lr * _c64(wd), p.dtype), g
    return p, g + tf.constant(wd, p.dtype) * p


def _betas(hyper: Mapping[str, Any]) -> tuple[float, float]:
    b1, b2 = (float(b) for b in hyper.get("betas", (0.9, 0.999)))
    return b1, b2


def nadam(
    p: Tensor,
    g: Tensor,
    state: Mapping[str, Tensor],
    lr: Tensor,
    step: Tensor | None,
    wd: float,
    hyper: Mapping[str, Any],
) -> Rule:
    assert step is not None
    dt = p.dtype
    b1, b2 = _betas(hyper)
    eps = float(hyper.get("eps", 1e-8))
    md = float(hyper.get("momentum_decay", 4e-3))
    bc2 = _c64(1.0) - tf.pow(_c64(b2), step)
    p, g = _decay(p, g, lr, wd, bool(hyper.get("decoupled_weight_decay", False)))
    mu = _c64(b1) * (_c64(1.0) - _c64(0.5) * tf.pow(_c64(0.96), step * _c64(md)))
    mu_next = _c64(b1) * (_c64(1.0) - _c64(0.5) * tf.pow(_c64(0.96), (step + _c64(1.0)) * _c64(md)))
    mu_product = tf.cast(state["mu_product"], tf.float64) * mu
    m = _lerp(state["exp_avg"], g, 1 - b1)
    v = tf.constant(b2, dt) * state["exp_avg_sq"] + tf.constant(1 - b2, dt) * g * g
    denom = tf.sqrt(v / tf.cast(bc2, dt)) + tf.constant(eps, dt)
    c_grad = tf.cast(-lr * (_c64(1.0) - mu) / (_c64(1.0) - mu_product), dt)
    c_avg = tf.cast((-lr * mu_next) / (_c64(1.0) - mu_product * mu_next), dt)
    p = p + c_grad * g / denom
    p = p + c_avg * m / denom
    return p, {"exp_avg": m, "exp_avg_sq": v, "mu_product": tf.cast(mu_product, state["mu_product"].dtype)}


def radam(
    p: Tensor,
    g: Tensor,
    state: Mapping[str, Tensor],
    lr: Tensor,
    step: Tensor | None,
    wd: float,
    hyper: Mapping[str, Any],
) -> Rule:
    assert step is not None
    dt = p.dtype
    b1, b2 = _betas(hyper)
    eps = float(hyper.get("eps", 1e-8))
    p, g = _decay(p, g, lr, wd, bool(hyper.get("decoupled_weight_decay", False)))
    m = _lerp(state["exp_avg"], g, 1 - b1)
    v = tf.constant(b2, dt) * state["exp_avg_sq"] + tf.constant(1 - b2, dt) * g * g
    bc1 = _c64(1.0) - tf.pow(_c64(b1), step)
    bc2 = _c64(1.0) - tf.pow(_c64(b2), step)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = _c64(rho_inf) - _c64(2.0) * step * tf.pow(_c64(b2), step) / bc2
    rectified = rho_t > _c64(5.0)
    ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    rect = tf.sqrt(tf.where(rectified, ratio, _c64(1.0)))
    base = m / tf.cast(bc1, dt) * tf.cast(lr, dt)
    adaptive = tf.cast(tf.sqrt(bc2), dt) / (tf.sqrt(v) + tf.constant(eps, dt))
    update = tf.where(rectified, base * adaptive * tf.cast(rect, dt), base)
    return p - update, {"exp_avg": m, "exp_avg_sq": v}


def adamax(
    p: Tensor,
    g: Tensor,
    state: Mapping[str, Tensor],
    lr: Tensor,
    step: Tensor | None,
    wd: float,
    hyper: Mapping[str, Any],
) -> Rule:
    assert step is not None
    dt = p.dtype
    b1, b2 = _betas(hyper)
    eps = float(hyper.get("eps", 1e-8))
    _, g = _decay(p, g, lr, wd, False)
    m = _lerp(state["exp_avg"], g, 1 - b1)
    exp_inf = tf.maximum(state["exp_inf"] * tf.constant(b2, dt), tf.abs(g) + tf.constant(eps, dt))
    clr = lr / (_c64(1.0) - tf.pow(_c64(b1), step))
    return p + tf.cast(-clr, dt) * m / exp_inf, {"exp_avg": m, "exp_inf": exp_inf}


def adadelta(
    p: Tensor,
    g: Tensor,
    state: Mapping[str, Tensor],
    lr: Tensor,
    step: Tensor | None,
    wd: float,
    hyper: Mapping[str, Any],
) -> Rule:
    dt = p.dtype
    rho = float(hyper.get("rho", 0.9))
    eps = tf.constant(float(hyper.get("eps", 1e-6)), dt)
    _, g = _decay(p, g, lr, wd, False)
    square_avg = state["square_avg"] * tf.constant(rho, dt) + tf.constant(1 - rho, dt) * g * g
    delta = tf.sqrt(state["acc_delta"] + eps) / tf.sqrt(square_avg + eps) * g
    acc_delta = state["acc_delta"] * tf.constant(rho, dt) + tf.constant(1 - rho, dt) * delta * delta
    return p - tf.cast(lr, dt) * delta, {"square_avg": square_avg, "acc_delta": acc_delta}


def _norm64(x: Tensor) -> Tensor:
    """``x.norm(2).item()``: the 2-norm in x's dtype, as a float64 scalar."""
    return tf.cast(tf.norm(tf.reshape(x, [-1])), tf.float64)


def adafactor(
    p: Tensor,
    g: Tensor,
    state: Mapping[str, Tensor],
    lr: Tensor,
    step: Tensor | None,
    wd: float,
    hyper: Mapping[str, Any],
) -> Rule:
    assert step is not None
    dt = p.dtype
    eps1_given, eps2 = hyper.get("eps", (None, 1e-3))
    eps1 = float(np.finfo(dt.as_numpy_dtype).eps) if eps1_given is None else float(eps1_given)
    d = float(hyper.get("d", 1.0))
    w = tf.pow(step, _c64(float(hyper.get("beta2_decay", -0.8))))
    rho_t = tf.minimum(lr, _c64(1.0) / tf.sqrt(step))
    n = float(np.prod(p.shape.as_list())) if p.shape.rank else 1.0
    alpha = tf.maximum(_c64(eps2), _norm64(p) / _c64(n**0.5)) * rho_t
    p, _ = _decay(p, g, lr, wd, True)
    if g.shape.rank is not None and g.shape.rank > 1:
        row_mean = tf.square(tf.norm(g, axis=-1, keepdims=True)) / tf.constant(float(g.shape[-1]), dt)
        row_var = _lerp_t(state["row_var"], row_mean, w)
        col_mean = tf.square(tf.norm(g, axis=-2, keepdims=True)) / tf.constant(float(g.shape[-2]), dt)
        col_var = _lerp_t(state["col_var"], col_mean, w)
        new_state = {"row_var": row_var, "col_var": col_var}
        row_scale = tf.maximum(tf.reduce_mean(row_var, axis=-2, keepdims=True), tf.constant(eps1, dt))
        var_estimate = tf.matmul(row_var, col_var) / row_scale
    else:
        var_estimate = _lerp_t(state["variance"], g * g, w)
        new_state = {"variance": var_estimate}
    update = tf.math.rsqrt(tf.maximum(var_estimate, tf.constant(eps1 * eps1, dt))) * g
    denom = tf.maximum(_c64(1.0), _norm64(update) / _c64((n**0.5) * d))
    return p + tf.cast(-alpha / denom, dt) * update, new_state


_NS_DTYPES = {None: tf.bfloat16, "bfloat16": tf.bfloat16, "float32": tf.float32, "float64": tf.float64}


def newton_schulz(u: Tensor, coefficients: Sequence[float], steps: int, eps: float, dtype: str | None = None) -> Tensor:
    """torch's ``_zeropower_via_newtonschulz`` in ``dtype`` (None: bfloat16, as torch): ``X = u``
    (transposed when tall) ``/ max(||u||_F, eps)``; ``steps`` times ``A = X X^T``,
    ``X = a X + (b A + c A A) X``; transposed back. Returns the result in ``dtype``.

    In bfloat16 it computes as torch's CPU kernels do: the tensors are stored in bfloat16 but
    every op (the norm, the division, each ``addmm`` as a whole) computes in float32 and rounds
    its result to bfloat16 once (TF's own bfloat16 kernels round every partial result, which
    triples the error).
    """
    if dtype not in _NS_DTYPES:
        raise ValueError(f"newton_schulz_dtype must be None, 'bfloat16', 'float32' or 'float64', got {dtype!r}")
    a, b, c = (float(x) for x in coefficients)
    store = _NS_DTYPES[dtype]
    work = tf.float32 if store == tf.bfloat16 else store

    def rounded(x: Tensor) -> Tensor:  # the op's result stored in the iteration dtype
        return tf.cast(tf.cast(x, store), work)

    x = rounded(u)
    rows, cols = u.shape.as_list()
    tall = rows > cols
    if tall:
        x = tf.transpose(x)
    x = rounded(x / rounded(tf.maximum(tf.norm(x), tf.constant(eps, work))))
    for _ in range(int(steps)):
        gram = rounded(tf.matmul(x, x, transpose_b=True))
        gram_update = rounded(tf.constant(b, work) * gram + tf.constant(c, work) * tf.matmul(gram, gram))
        x = rounded(tf.constant(a, work) * x + tf.matmul(gram_update, x))
    return tf.transpose(x) if tall else x


def _muon_lr_ratio(adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    rows, cols = int(shape[0]), int(shape[1])
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")


def muon(
    p: Tensor,
    g: Tensor,
    state: Mapping[str, Tensor],
    lr: Tensor,
    step: Tensor | None,
    wd: float,
    hyper: Mapping[str, Any],
    newton_schulz_dtype: str | None = None,
) -> Rule:
    dt = p.dtype
    if p.shape.rank != 2:
        raise ValueError(f"muon updates only 2-D variables, got shape {p.shape}")
    mu = float(hyper.get("momentum", 0.95))
    buf = _lerp(state["momentum_buffer"], g, 1 - mu)
    update = _lerp(g, buf, mu) if hyper.get("nesterov", True) else buf
    ortho = newton_schulz(
        update,
        hyper.get("ns_coefficients", (3.4445, -4.775, 2.0315)),
        int(hyper.get("ns_steps", 5)),
        float(hyper.get("eps", 1e-7)),
        newton_schulz_dtype,
    )
    ratio = _muon_lr_ratio(hyper.get("adjust_lr_fn"), p.shape.as_list())
    p = p * tf.cast(_c64(1.0) - lr * _c64(wd), dt)
    return p - tf.cast(lr * _c64(ratio), dt) * tf.cast(ortho, dt), {"momentum_buffer": buf}
