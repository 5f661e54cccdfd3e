"""``newton_schulz_dtype``: torch's Muon with its Newton-Schulz iteration in another dtype.

``torch.optim.Muon`` (2.13) orthogonalizes each update with 5 quintic Newton-Schulz steps run
in **bfloat16** (``_zeropower_via_newtonschulz``: ``X = G.bfloat16()``, transposed when
``rows > cols``; ``X /= max(||X||_F, eps)``; then ``ns_steps`` times ``A = X X^T``,
``B = b A + c A A``, ``X = a X + B X``; transposed back). That is the stock behaviour and what
the torch target builds by default (``newton_schulz_dtype=None``).

:class:`MuonNS` is a subclass whose ``step`` is torch's ``_single_tensor_muon`` line for line
with the same iteration run in ``float32`` or ``float64`` instead (the compile option
``newton_schulz_dtype="float32"`` / ``"float64"``): momentum ``B = lerp(B, g, 1 - mu)``, update
``lerp(g, B, mu)`` (nesterov) or ``B``, decoupled decay ``p *= 1 - lr*wd``, then
``p -= adjusted_lr * NS(update)`` with torch's ``adjust_lr_fn`` (``None``/``"original"``:
``lr * sqrt(max(1, rows/cols))``; ``"match_rms_adamw"``: ``lr * 0.2 * sqrt(max(rows, cols))``).
With float64 it is the exact math of :func:`lrspec.reference.rules.newton_schulz` (what
``lrspec verify --dtype float64`` compares). Nothing of torch is patched: only this class
differs, and its state (``momentum_buffer``) and param groups are the stock Muon's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lrspec.errors import TargetError

__all__ = ["NS_DTYPES", "MuonNS", "newton_schulz", "ns_dtype"]

NS_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


def ns_dtype(value: Any) -> torch.dtype | None:
    """The compile option ``newton_schulz_dtype``: None (stock bfloat16), "float32" or "float64"."""
    if value is None:
        return None
    if isinstance(value, str) and value in NS_DTYPES:
        return NS_DTYPES[value]
    raise TargetError(
        f"option newton_schulz_dtype={value!r}: expected None (torch's stock bfloat16 Muon), 'float32' or 'float64'"
    )


def newton_schulz(
    grad: torch.Tensor, coefficients: Sequence[float], steps: int, eps: float, dtype: torch.dtype
) -> torch.Tensor:
    """torch's ``_zeropower_via_newtonschulz`` with ``dtype`` in place of bfloat16 (see the module docstring)."""
    a, b, c = coefficients
    x = grad.to(dtype)
    tall = grad.size(0) > grad.size(1)
    if tall:
        x = x.T
    x = x.div(x.norm().clamp(min=eps))
    for _ in range(steps):
        gram = x @ x.T
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.addmm(x, poly, x, beta=a)
    return x.T if tall else x


def adjust_lr(lr: float, adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    """torch's ``_adjust_lr`` (see the module docstring)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class MuonNS(torch.optim.Muon):
    """``torch.optim.Muon`` with Newton-Schulz in ``newton_schulz_dtype`` (see the module docstring)."""

    def __init__(self, params: Any, *, newton_schulz_dtype: torch.dtype, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.newton_schulz_dtype = newton_schulz_dtype

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One Muon update of every group (torch's rule, Newton-Schulz in ``newton_schulz_dtype``)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params: list[torch.Tensor] = []
            grads: list[torch.Tensor] = []
            bufs: list[torch.Tensor] = []
            self._init_group(group, params, grads, bufs)
            lr, wd, momentum = float(group["lr"]), group["weight_decay"], group["momentum"]
            for p, g, buf in zip(params, grads, bufs):
                buf.lerp_(g, 1 - momentum)
                update = g.lerp(buf, momentum) if group["nesterov"] else buf
                ortho = newton_schulz(
                    update, group["ns_coefficients"], group["ns_steps"], group["eps"], self.newton_schulz_dtype
                )
                p.mul_(1 - lr * wd)
                p.add_(ortho, alpha=-adjust_lr(lr, group["adjust_lr_fn"], p.shape))
        return loss
