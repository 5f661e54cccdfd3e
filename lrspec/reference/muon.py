"""Muon in NumPy float64, as ``torch.optim.Muon`` 2.13 defines it (``torch/optim/_muon.py``),
with the Newton-Schulz iteration in float64: the exact math.

What "equal" means for Muon (torch runs the iteration in bfloat16, ``grad.bfloat16()``):

* **exact**: with the iteration in float64 on both sides (the targets' compile option
  ``newton_schulz_dtype="float64"``, which verify drivers use in float64 mode), a target and
  this reference agree to the float roundoff of the run dtype (measured: ~3e-16 relative
  against torch float64 over 25 updates);
* **bfloat16** (the stock iteration): for one update computed from the same input ``u`` (the
  momentum buffer or its nesterov blend), the orthogonalised direction satisfies
  ``||O_bf16 - O_ref||_F <= BF16_UPDATE_RTOL * ||O_ref||_F`` whenever the condition number of
  ``u`` is at most :data:`BF16_MAX_CONDITION`. Fed the same gradients, the momentum buffers
  of both runs are identical, so after N updates whose inputs all have condition number
  <= :data:`BF16_MAX_CONDITION`:
  ``||p_bf16 - p_ref||_F <= BF16_UPDATE_RTOL * sum_t adjust_lr(lr_t) * ||O_ref,t||_F``.
  Ill-conditioned or rank-deficient inputs have no relative bound: bfloat16 rounding puts
  noise of relative size ~4e-3 into the near-null singular directions and the iteration
  (slope 3.4445 at 0, five times) amplifies it to O(1) (measured: relative errors above 1
  for rank-1 inputs). Compare those in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrspec.reference.state import Array, OptimizerState, lerp

__all__ = ["BF16_MAX_CONDITION", "BF16_UPDATE_RTOL", "adjust_lr", "muon_step", "newton_schulz"]

BF16_UPDATE_RTOL = 0.05
"""The relative Frobenius bound that defines "equal" for one Muon update with a bfloat16
Newton-Schulz iteration (module docstring). Measured (torch 2.13, CPU) on 600 random inputs
of condition number 20 (singular values log-uniform in [1/20, 1], smaller side 2..32, larger
side up to 200, scales 1e-4..1e3): median 1.5e-2..2.3e-2, max 3.9e-2. bfloat16's unit
roundoff is 2**-9 = 2.0e-3. Gaussian inputs carry no guarantee (small random matrices are
often ill-conditioned: up to 5.7e-2 measured for sides 2..64)."""

BF16_MAX_CONDITION = 20.0
"""The largest condition number ``sigma_max / sigma_min`` of the Newton-Schulz input for which
:data:`BF16_UPDATE_RTOL` holds (measured maxima: 5.4e-2 at 30, 0.1 at 100)."""


def newton_schulz(
    G: Array,
    coefficients: Sequence[float] = (3.4445, -4.775, 2.0315),
    steps: int = 5,
    eps: float = 1e-7,
) -> Array:
    """torch's ``_zeropower_via_newtonschulz`` in float64: an approximate orthogonalisation
    ``U S' V^T`` of the 2-D matrix ``G = U S V^T`` (``S'`` roughly in [0.5, 1.5]).

    With ``(a, b, c) = coefficients``: ``X = G`` (transposed when it has more rows than
    columns), ``X = X / max(||X||_F, eps)``; ``steps`` times: ``A = X X^T``,
    ``B = b A + c A A``, ``X = a X + B X``; transposed back. Returns a new float64 array.
    """
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if G.ndim != 2:
        raise ValueError(f"Newton-Schulz needs a 2-D matrix, got shape {G.shape}")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (float(x) for x in coefficients)
    x = np.array(G, dtype=np.float64, copy=True)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / max(float(np.sqrt(np.sum(x * x))), eps)
    for _ in range(steps):
        gram = x @ x.T
        gram_update = b * gram + c * (gram @ gram)
        x = a * x + gram_update @ x
    out: Array = np.ascontiguousarray(x.T if tall else x)
    return out


def adjust_lr(lr: float, adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    """torch's ``_adjust_lr`` for a parameter of shape ``(A, B)``: None or ``"original"``
    (Keller Jordan's): ``lr * sqrt(max(1, A/B))``; ``"match_rms_adamw"`` (Moonshot's):
    ``lr * 0.2 * sqrt(max(A, B))``."""
    rows, cols = int(shape[0]), int(shape[1])
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")
    return lr * ratio


def muon_step(
    param: Array,
    grad: Array,
    state: OptimizerState,
    *,
    lr: float,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: Sequence[float] = (3.4445, -4.775, 2.0315),
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
) -> Array:
    """torch.optim.Muon, one update of a 2-D parameter; returns the new parameter.

    ``B = lerp(B, g, 1 - momentum)`` (torch's ``momentum_buffer``, zeros at first: an EMA,
    not the ``mu B + g`` of torch's docstring); ``u = lerp(g, B, momentum)`` (nesterov) or
    ``u = B``; ``O = newton_schulz(u, ns_coefficients, ns_steps, eps)``;
    ``p = p*(1 - lr*wd)`` (decoupled, always applied); ``p = p - adjust_lr(lr, adjust_lr_fn,
    shape)*O``. torch keeps no step count (it is counted here, unused).
    """
    if param.ndim != 2:
        raise ValueError(f"muon updates only 2-D parameters, got shape {param.shape}")
    state.step += 1
    buf = lerp(state.buffers["momentum_buffer"], grad, 1 - momentum)
    state.buffers["momentum_buffer"] = buf
    update = lerp(grad, buf, momentum) if nesterov else buf
    ortho = newton_schulz(update, ns_coefficients, ns_steps, eps)
    adjusted_lr = adjust_lr(lr, adjust_lr_fn, param.shape)
    param = param * (1 - lr * weight_decay)
    result: Array = param + (-adjusted_lr) * ortho
    return result
