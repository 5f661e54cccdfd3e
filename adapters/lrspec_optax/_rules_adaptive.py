"""torch's NAdam, RAdam, Adamax, Adadelta and Adafactor for one pytree leaf, as ``jax.numpy``
code (the conventions of :mod:`lrspec_optax._rules`; formulas in :mod:`lrspec.reference.adaptive`
and :mod:`lrspec.reference.adafactor`, followed operation by operation).

:func:`adaptive_scalars` computes a group's step-dependent scalars once per update in the
wide dtype (float64 under ``jax_enable_x64``, as torch's Python floats); each rule takes
``(g, p, buffers, scalars, wd, hyper)`` and returns ``(update, buffers)`` with ``update`` what
``optax.apply_updates`` adds to ``p``. Decoupled weight decay ``p *= 1 - lr*wd`` becomes the
additive term ``-lr*wd*p``. Scalars are cast to the leaf's dtype before they touch it.

Part of the optax runtime (imports only jax; inlined by ``--emit python``).
"""

# <runtime-imports>
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp

# </runtime-imports>

ADAPTIVE_FAMILIES = ("nadam", "radam", "adamax", "adadelta", "adafactor")


def adaptive_init(family: str, p: Any, hyper: Mapping[str, Any], wide: Any) -> dict[str, Any]:
    """Fresh buffers, torch's names (NAdam's ``mu_product`` is a wide scalar, starting at 1)."""
    if family == "nadam":
        return {"exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p), "mu_product": jnp.ones([], wide)}
    if family == "radam":
        return {"exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p)}
    if family == "adamax":
        return {"exp_avg": jnp.zeros_like(p), "exp_inf": jnp.zeros_like(p)}
    if family == "adadelta":
        return {"square_avg": jnp.zeros_like(p), "acc_delta": jnp.zeros_like(p)}
    if family == "adafactor":
        if p.ndim > 1:
            row = list(p.shape)
            row[-1] = 1
            col = list(p.shape)
            col[-2] = 1
            return {"row_var": jnp.zeros(row, p.dtype), "col_var": jnp.zeros(col, p.dtype)}
        return {"variance": jnp.zeros_like(p)}
    raise ValueError(f"unknown optimizer family {family!r}")


def _betas(hyper: Mapping[str, Any]) -> tuple[float, float]:
    b1, b2 = (float(x) for x in hyper.get("betas", (0.9, 0.999)))
    return b1, b2


def adaptive_scalars(family: str, lr: Any, s: Any, wd: float, hyper: Mapping[str, Any]) -> dict[str, Any]:
    """The wide-dtype scalars of one group at this update (``s``: the group's step count after
    increment, as a float of the wide dtype)."""
    out: dict[str, Any] = {"lr": lr, "s": s}
    if family == "nadam":
        beta1, beta2 = _betas(hyper)
        md = float(hyper.get("momentum_decay", 4e-3))
        out["bc2"] = 1 - jnp.power(jnp.asarray(beta2, s.dtype), s)
        out["mu"] = beta1 * (1.0 - 0.5 * jnp.power(jnp.asarray(0.96, s.dtype), s * md))
        out["mu_next"] = beta1 * (1.0 - 0.5 * jnp.power(jnp.asarray(0.96, s.dtype), (s + 1) * md))
    elif family == "radam":
        beta1, beta2 = _betas(hyper)
        # beta2**s and 1 - beta2**s via log1p/expm1: rho_t cancels two numbers near rho_inf
        # (~2/(1 - beta2)), so in float32 (no jax_enable_x64) a plain 1 - beta2**s would cost
        # it most of its digits near the rectification switch
        # (float64: torch's plain formula)
        if s.dtype == jnp.float64 or beta2 <= 0:
            b2s = jnp.power(jnp.asarray(beta2, s.dtype), s)
            bc2 = 1 - b2s
        else:
            log_b2 = jnp.log1p(jnp.asarray(-(1 - beta2), s.dtype))
            b2s = jnp.exp(s * log_b2)
            bc2 = -jnp.expm1(s * log_b2)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * s * b2s / bc2
        use = rho_t > 5.0
        safe = jnp.where(use, rho_t, jnp.asarray(10.0, s.dtype))  # no sqrt of a negative
        out["rect"] = jnp.sqrt((safe - 4) * (safe - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe))
        out["use_rect"] = use
        out["bc1"] = 1 - jnp.power(jnp.asarray(beta1, s.dtype), s)
        out["bc2_sqrt"] = jnp.sqrt(bc2)
    elif family == "adamax":
        beta1, _ = _betas(hyper)
        out["neg_clr"] = -(lr / (1 - jnp.power(jnp.asarray(beta1, s.dtype), s)))
    elif family == "adafactor":
        out["w"] = jnp.power(s, float(hyper.get("beta2_decay", -0.8)))
        out["rho"] = jnp.minimum(lr, 1 / jnp.sqrt(s))
    return out


def _decay(g: Any, p: Any, lr: Any, wd: float, decoupled: bool) -> tuple[Any, Any]:
    """``(g, decay term)``: coupled ``g + wd*p`` (term 0), or decoupled ``-lr*wd*p``."""
    if wd == 0:
        return g, None
    if decoupled:
        return g, (-(lr * wd)).astype(p.dtype) * p
    return g + wd * p, None


def _lerp(start: Any, end: Any, weight: float) -> Any:
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def _lerp_traced(start: Any, end: Any, weight: Any) -> Any:
    """torch.lerp with a traced scalar weight (both of torch's formulas, selected by ``|w| < 0.5``)."""
    w = weight.astype(start.dtype)
    return jnp.where(jnp.abs(weight) < 0.5, start + w * (end - start), end - (end - start) * (1.0 - w))


def _plus(decay: Any, update: Any) -> Any:
    return update if decay is None else decay + update


def nadam_rule(g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]) -> Any:
    beta1, beta2 = _betas(hyper)
    eps = float(hyper.get("eps", 1e-8))
    lr, mu, mu_next, dt = sc["lr"], sc["mu"], sc["mu_next"], p.dtype
    g, decay = _decay(g, p, lr, wd, bool(hyper.get("decoupled_weight_decay", False)))
    mu_product = b["mu_product"] * mu
    m = _lerp(b["exp_avg"], g, 1 - beta1)
    v = b["exp_avg_sq"] * beta2 + ((1 - beta2) * g) * g
    denom = jnp.sqrt(v / sc["bc2"].astype(dt)) + eps
    c1 = (-lr * (1.0 - mu) / (1.0 - mu_product)).astype(dt)
    c2 = ((-lr * mu_next) / (1.0 - mu_product * mu_next)).astype(dt)
    update = (c1 * g) / denom + (c2 * m) / denom
    return _plus(decay, update), {"exp_avg": m, "exp_avg_sq": v, "mu_product": mu_product}


def radam_rule(g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]) -> Any:
    beta1, beta2 = _betas(hyper)
    eps = float(hyper.get("eps", 1e-8))
    lr, dt = sc["lr"], p.dtype
    g, decay = _decay(g, p, lr, wd, bool(hyper.get("decoupled_weight_decay", False)))
    m = _lerp(b["exp_avg"], g, 1 - beta1)
    v = b["exp_avg_sq"] * beta2 + ((1 - beta2) * g) * g
    corrected = m / sc["bc1"].astype(dt)
    adaptive = sc["bc2_sqrt"].astype(dt) / (jnp.sqrt(v) + eps)
    lr_d = lr.astype(dt)
    rectified = -(corrected * lr_d * adaptive * sc["rect"].astype(dt))
    update = jnp.where(sc["use_rect"], rectified, -(corrected * lr_d))
    return _plus(decay, update), {"exp_avg": m, "exp_avg_sq": v}


def adamax_rule(g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]) -> Any:
    beta1, beta2 = _betas(hyper)
    eps = float(hyper.get("eps", 1e-8))
    g = g + wd * p if wd != 0 else g
    m = _lerp(b["exp_avg"], g, 1 - beta1)
    exp_inf = jnp.maximum(b["exp_inf"] * beta2, jnp.abs(g) + eps)
    return (sc["neg_clr"].astype(p.dtype) * m) / exp_inf, {"exp_avg": m, "exp_inf": exp_inf}


def adadelta_rule(g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]) -> Any:
    rho, eps = float(hyper.get("rho", 0.9)), float(hyper.get("eps", 1e-6))
    g = g + wd * p if wd != 0 else g
    square_avg = b["square_avg"] * rho + ((1 - rho) * g) * g
    std = jnp.sqrt(square_avg + eps)
    delta = jnp.sqrt(b["acc_delta"] + eps) / std * g
    acc_delta = b["acc_delta"] * rho + ((1 - rho) * delta) * delta
    return (-sc["lr"]).astype(p.dtype) * delta, {"square_avg": square_avg, "acc_delta": acc_delta}


def _norm(x: Any) -> Any:
    return jnp.sqrt(jnp.sum(x * x))


def adafactor_rule(
    g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]
) -> Any:
    """torch.optim.Adafactor; ``eps1`` None is the machine epsilon of the leaf's dtype."""
    eps1_h, eps2_h = hyper.get("eps", (None, 1e-3))
    eps1 = float(jnp.finfo(p.dtype).eps) if eps1_h is None else float(eps1_h)  # type: ignore[no-untyped-call]
    eps2 = float(eps2_h)
    d = float(hyper.get("d", 1.0))
    lr, wide, dt = sc["lr"], sc["s"].dtype, p.dtype
    alpha = jnp.maximum(eps2, (_norm(p) / (p.size**0.5)).astype(wide)) * sc["rho"]
    decay = (-(lr * wd)).astype(dt) * p if wd != 0 else None
    w = sc["w"]
    if g.ndim > 1:
        row_mean = jnp.linalg.norm(g, axis=-1, keepdims=True) ** 2 / g.shape[-1]
        row_var = _lerp_traced(b["row_var"], row_mean, w)
        col_mean = jnp.linalg.norm(g, axis=-2, keepdims=True) ** 2 / g.shape[-2]
        col_var = _lerp_traced(b["col_var"], col_mean, w)
        new = {"row_var": row_var, "col_var": col_var}
        var = jnp.matmul(row_var, col_var) / jnp.maximum(jnp.mean(row_var, axis=-2, keepdims=True), eps1)
    else:
        variance = _lerp_traced(b["variance"], g * g, w)
        new = {"variance": variance}
        var = variance
    update = 1.0 / jnp.sqrt(jnp.maximum(var, eps1 * eps1)) * g
    denom = jnp.maximum(1.0, (_norm(update) / ((update.size**0.5) * d)).astype(wide))
    return _plus(decay, (-alpha / denom).astype(dt) * update), new


ADAPTIVE_RULES = {
    "nadam": nadam_rule,
    "radam": radam_rule,
    "adamax": adamax_rule,
    "adadelta": adadelta_rule,
    "adafactor": adafactor_rule,
}
