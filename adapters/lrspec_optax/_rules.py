"""torch's update rules for one pytree leaf, as ``jax.numpy`` code (lrspec's own transforms).

:func:`group_scalars` computes, once per group and update, the traced scalars a rule needs
from the group's lr at this update and its step count ``s`` (after increment, as a float):
``-lr``, Adam's ``lr / bc1`` and ``sqrt(bc2)``, Adagrad's decayed lr (so 98 groups of 2 leaves
cost 98 scalar computations, not 196). Each rule then takes the gradient ``g``, the parameter
``p``, the leaf's buffers (a dict keyed by torch's state names), those scalars and the static
hyperparameters (Python numbers, baked into the trace), and returns ``(update, buffers)``
where ``update`` is what ``optax.apply_updates`` adds to ``p``. The arithmetic follows
:mod:`lrspec.reference` operation by operation (``lerp``, bias corrections, eps placement), so
float64 results agree with it to about 1e-15 relative. Scalars are cast to the leaf's dtype
before they touch it (a float64 lr never promotes a float32 leaf).

The families nadam, radam, adamax, adadelta and adafactor are in
:mod:`lrspec_optax._rules_adaptive`, muon in :mod:`lrspec_optax._muon`; the functions here
dispatch on the family.

Part of the optax runtime (imports only jax; inlined by ``--emit python``).
"""

# <runtime-imports>
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from lrspec_optax._muon import muon_rule
from lrspec_optax._rules_adaptive import ADAPTIVE_FAMILIES, ADAPTIVE_RULES, adaptive_init, adaptive_scalars

# </runtime-imports>


def init_buffers(family: str, p: Any, hyper: Mapping[str, Any]) -> dict[str, Any]:
    """Fresh buffers for one leaf, as :func:`lrspec.reference.init_state` creates them
    (SGD's momentum buffer exists from the start here, zero, and is set to ``g`` at the
    leaf's first update)."""
    zeros = jnp.zeros_like(p)
    if family == "sgd":
        return {"momentum_buffer": zeros} if float(hyper.get("momentum", 0.0)) != 0 else {}
    if family in ("adam", "adamw"):
        out = {"exp_avg": zeros, "exp_avg_sq": jnp.zeros_like(p)}
        if hyper.get("amsgrad", False):
            out["max_exp_avg_sq"] = jnp.zeros_like(p)
        return out
    if family == "rmsprop":
        out = {"square_avg": zeros}
        if float(hyper.get("momentum", 0.0)) > 0:
            out["momentum_buffer"] = jnp.zeros_like(p)
        if hyper.get("centered", False):
            out["grad_avg"] = jnp.zeros_like(p)
        return out
    if family == "adagrad":
        return {"sum": jnp.full_like(p, float(hyper.get("initial_accumulator_value", 0.0)))}
    if family in ADAPTIVE_FAMILIES:
        return adaptive_init(family, p, hyper, jax.dtypes.canonicalize_dtype(jnp.float64))
    if family == "muon":
        return {"momentum_buffer": zeros}
    raise ValueError(f"unknown optimizer family {family!r}")


def _lerp(start: Any, end: Any, weight: float) -> Any:
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def _coupled(g: Any, p: Any, wd: float) -> Any:
    return g + wd * p if wd != 0 else g


def group_scalars(family: str, lr: Any, s: Any, wd: float, hyper: Mapping[str, Any], dtype: Any) -> dict[str, Any]:
    """The traced scalars of one group's rule at this update, cast to the leaves' ``dtype``
    (computed from ``lr`` and ``s`` in their own, wider, dtype first, as torch's Python floats).
    The families of :mod:`lrspec_optax._rules_adaptive` and muon get wide scalars, cast by
    their rules."""
    if family in ADAPTIVE_FAMILIES:
        return adaptive_scalars(family, lr, s, wd, hyper)
    if family == "muon":
        return {"lr": lr}
    out = {"neg_lr": (-lr).astype(dtype)}
    if family in ("adam", "adamw"):
        beta1, beta2 = (float(x) for x in hyper.get("betas", (0.9, 0.999)))
        bc1 = 1 - jnp.power(jnp.asarray(beta1, dtype=s.dtype), s)
        bc2 = 1 - jnp.power(jnp.asarray(beta2, dtype=s.dtype), s)
        out["neg_step_size"] = (-(lr / bc1)).astype(dtype)
        out["bc2_sqrt"] = jnp.sqrt(bc2).astype(dtype)
        if family == "adamw" and wd != 0:
            out["neg_lr_wd"] = (-(lr * wd)).astype(dtype)
    elif family == "adagrad":
        clr = lr / (1 + (s - 1) * float(hyper.get("lr_decay", 0.0)))
        out["neg_clr"] = (-clr).astype(dtype)
    return out


def sgd_rule(
    g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], s: Any, wd: float, hyper: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    momentum = float(hyper.get("momentum", 0.0))
    dampening = float(hyper.get("dampening", 0.0))
    g = _coupled(g, p, wd)
    out: dict[str, Any] = {}
    if momentum != 0:
        buf = jnp.where(s == 1, g, b["momentum_buffer"] * momentum + (1 - dampening) * g)
        out["momentum_buffer"] = buf
        g = g + momentum * buf if hyper.get("nesterov", False) else buf
    return sc["neg_lr"] * g, out


def adam_rule(
    g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any], decoupled: bool
) -> tuple[Any, dict[str, Any]]:
    beta1, beta2 = (float(x) for x in hyper.get("betas", (0.9, 0.999)))
    eps = float(hyper.get("eps", 1e-8))
    if wd != 0 and not decoupled:
        g = g + wd * p
    m = _lerp(b["exp_avg"], g, 1 - beta1)
    v = b["exp_avg_sq"] * beta2 + ((1 - beta2) * g) * g
    out: dict[str, Any] = {"exp_avg": m, "exp_avg_sq": v}
    if hyper.get("amsgrad", False):
        v = jnp.maximum(b["max_exp_avg_sq"], v)
        out["max_exp_avg_sq"] = v
    denom = jnp.sqrt(v) / sc["bc2_sqrt"] + eps
    update = (sc["neg_step_size"] * m) / denom
    if wd != 0 and decoupled:
        update = sc["neg_lr_wd"] * p + update
    return update, out


def rmsprop_rule(
    g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    alpha, eps = float(hyper.get("alpha", 0.99)), float(hyper.get("eps", 1e-8))
    momentum = float(hyper.get("momentum", 0.0))
    g = _coupled(g, p, wd)
    v = b["square_avg"] * alpha + ((1 - alpha) * g) * g
    out: dict[str, Any] = {"square_avg": v}
    if hyper.get("centered", False):
        gbar = _lerp(b["grad_avg"], g, 1 - alpha)
        out["grad_avg"] = gbar
        den = jnp.sqrt(v + ((-1.0) * gbar) * gbar) + eps
    else:
        den = jnp.sqrt(v) + eps
    if momentum > 0:
        buf = b["momentum_buffer"] * momentum + g / den
        out["momentum_buffer"] = buf
        return sc["neg_lr"] * buf, out
    return (sc["neg_lr"] * g) / den, out


def adagrad_rule(
    g: Any, p: Any, b: dict[str, Any], sc: Mapping[str, Any], wd: float, hyper: Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    eps = float(hyper.get("eps", 1e-10))
    g = _coupled(g, p, wd)
    total = b["sum"] + (1.0 * g) * g
    std = jnp.sqrt(total) + eps
    return (sc["neg_clr"] * g) / std, {"sum": total}


def leaf_update(
    family: str,
    g: Any,
    p: Any,
    b: dict[str, Any],
    sc: Mapping[str, Any],
    s: Any,
    wd: float,
    hyper: Mapping[str, Any],
    ns_dtype: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """One update of one leaf with ``family``'s rule; ``sc`` from :func:`group_scalars`;
    ``ns_dtype``: muon's Newton-Schulz dtype (None: bfloat16, torch's stock iteration)."""
    if family in ADAPTIVE_RULES:
        update, bufs = ADAPTIVE_RULES[family](g, p, b, sc, wd, hyper)
        return update, bufs
    if family == "muon":
        return muon_rule(g, p, b, sc["lr"], wd, hyper, ns_dtype)
    if family == "sgd":
        return sgd_rule(g, p, b, sc, s, wd, hyper)
    if family in ("adam", "adamw"):
        return adam_rule(g, p, b, sc, wd, hyper, decoupled=family == "adamw")
    if family == "rmsprop":
        return rmsprop_rule(g, p, b, sc, wd, hyper)
    if family == "adagrad":
        return adagrad_rule(g, p, b, sc, wd, hyper)
    raise ValueError(f"unknown optimizer family {family!r}")
