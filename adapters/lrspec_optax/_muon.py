"""torch's Muon for one 2-D pytree leaf, as ``jax.numpy`` code (formulas in
:mod:`lrspec.reference.muon`, followed operation by operation).

``B = lerp(B, g, 1 - momentum)``; ``u = lerp(g, B, momentum)`` (nesterov) or ``B``;
``O = newton_schulz(u)`` in ``ns_dtype``; update ``-lr*wd*p - adjust_lr(lr, shape)*O``
(torch's decoupled ``p *= 1 - lr*wd``, then ``p -= adjusted_lr * O``). ``ns_dtype`` is the
compile option ``newton_schulz_dtype``: None runs the iteration in bfloat16 as torch's stock
Muon does (``grad.bfloat16()``); ``"float32"``/``"float64"`` in that dtype (float64 needs
``jax_enable_x64``; the exact math of the reference).

Part of the optax runtime (imports only jax; inlined by ``--emit python``).
"""

# <runtime-imports>
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp

# </runtime-imports>


def newton_schulz_jax(
    G: Any, coefficients: Sequence[float], steps: int, eps: float, ns_dtype: str | None = None
) -> Any:
    """torch's ``_zeropower_via_newtonschulz`` in ``ns_dtype`` (None: bfloat16), returned in
    ``G``'s dtype: ``X = G`` (transposed when taller than wide), ``X /= max(||X||_F, eps)``;
    ``steps`` times ``A = X X^T``, ``B = b A + c A A``, ``X = a X + B X``; transposed back."""
    a, b, c = (float(x) for x in coefficients)
    x = G.astype(jnp.bfloat16 if ns_dtype is None else jnp.dtype(ns_dtype))
    tall = G.shape[0] > G.shape[1]
    if tall:
        x = x.T
    x = x / jnp.maximum(jnp.sqrt(jnp.sum(x * x)), eps).astype(x.dtype)
    for _ in range(int(steps)):
        gram = x @ x.T
        gram_update = b * gram + c * (gram @ gram)
        x = a * x + gram_update @ x
    if tall:
        x = x.T
    return x.astype(G.dtype)


def muon_lr_ratio(adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    """torch's ``_adjust_lr`` factor for shape ``(A, B)``: ``sqrt(max(1, A/B))`` (None,
    "original") or ``0.2*sqrt(max(A, B))`` ("match_rms_adamw")."""
    rows, cols = int(shape[0]), int(shape[1])
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")


def muon_rule(
    g: Any, p: Any, b: dict[str, Any], lr: Any, wd: float, hyper: Mapping[str, Any], ns_dtype: str | None
) -> tuple[Any, dict[str, Any]]:
    """One Muon update of a 2-D leaf; ``lr`` is the group's lr at this update (wide dtype)."""
    if p.ndim != 2:
        raise ValueError(f"muon updates only 2-D parameters, got shape {p.shape}")
    momentum = float(hyper.get("momentum", 0.95))
    buf = _lerp(b["momentum_buffer"], g, 1 - momentum)
    update = _lerp(g, buf, momentum) if hyper.get("nesterov", True) else buf
    ortho = newton_schulz_jax(
        update,
        hyper.get("ns_coefficients", (3.4445, -4.775, 2.0315)),
        int(hyper.get("ns_steps", 5)),
        float(hyper.get("eps", 1e-7)),
        ns_dtype,
    )
    adjusted = lr * muon_lr_ratio(hyper.get("adjust_lr_fn"), p.shape)
    step = (-adjusted).astype(p.dtype) * ortho
    if wd != 0:
        step = (-(lr * wd)).astype(p.dtype) * p + step
    return step, {"momentum_buffer": buf}


def _lerp(start: Any, end: Any, weight: float) -> Any:
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)
