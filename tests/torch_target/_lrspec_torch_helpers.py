"""Shared helpers of the torch-target tests (imported after ``pytest.importorskip("torch")``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

SHAPES: dict[str, tuple[int, ...]] = {
    "enc.weight": (3, 4),
    "enc.bias": (3,),
    "head.weight": (2, 3),
    "head.bias": (2,),
}


def float32_values(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    """float64 array of float32-representable numbers (so one reference serves both dtypes)."""
    return (rng.standard_normal(shape) * scale).astype(np.float32).astype(np.float64)


def initial_values(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: float32_values(rng, s, 0.5) for n, s in SHAPES.items()}


def gradient_sequence(
    steps: int, seed: int = 1, skip: Mapping[str, tuple[int, int]] | None = None
) -> list[dict[str, np.ndarray | None]]:
    """``steps`` gradient maps; ``skip[name] = (k, r)``: no gradient when ``t % k == r``."""
    rng = np.random.default_rng(seed)
    skip = {"head.bias": (7, 3), "enc.bias": (11, 5)} if skip is None else skip
    out: list[dict[str, np.ndarray | None]] = []
    for t in range(steps):
        grads: dict[str, np.ndarray | None] = {}
        for n, s in SHAPES.items():
            g = float32_values(rng, s)
            if n in skip and t % skip[n][0] == skip[n][1]:
                grads[n] = None
            else:
                grads[n] = g
        out.append(grads)
    return out


def make_params(values: Mapping[str, np.ndarray], dtype: torch.dtype) -> dict[str, nn.Parameter]:
    return {n: nn.Parameter(torch.tensor(v, dtype=dtype)) for n, v in values.items()}


def set_grads(params: Mapping[str, torch.Tensor], grads: Mapping[str, np.ndarray | None]) -> None:
    for n, p in params.items():
        g = grads.get(n)
        p.grad = None if g is None else torch.tensor(g, dtype=p.dtype)


def run_updates(
    compiled: Any, params: Mapping[str, torch.Tensor], gradients: Sequence[Mapping[str, np.ndarray | None]]
) -> list[dict[str, np.ndarray]]:
    """Feed ``gradients`` through the compiled optimizer; snapshots like reference.simulate."""
    snaps = [{n: p.detach().double().numpy().copy() for n, p in params.items()}]
    for grads in gradients:
        set_grads(params, grads)
        compiled.optimizer.step()
        compiled.scheduler.step()
        compiled.optimizer.zero_grad()
        snaps.append({n: p.detach().double().numpy().copy() for n, p in params.items()})
    return snaps


def assert_close_float64(
    got: Sequence[Mapping[str, np.ndarray]], ref: Sequence[Mapping[str, np.ndarray]], rel: float = 1e-12
) -> None:
    """Every parameter after every update within ``rel`` of the reference, relative to its magnitude."""
    assert len(got) == len(ref)
    for k, (g, r) in enumerate(zip(got, ref)):
        for n in r:
            err = float(np.max(np.abs(g[n] - r[n])))
            scale = float(np.max(np.abs(r[n])))
            assert err <= rel * scale, f"{n} after {k} updates: error {err:.3g} > {rel:g} * {scale:.3g}"


def assert_close_float32(
    got: Sequence[Mapping[str, np.ndarray]], ref: Sequence[Mapping[str, np.ndarray]], frac: float = 1e-4
) -> None:
    """Every parameter after every update within ``frac`` of the distance it moved (exact if it did not move)."""
    assert len(got) == len(ref)
    start = ref[0]
    for k, (g, r) in enumerate(zip(got, ref)):
        for n in r:
            err = float(np.max(np.abs(g[n] - r[n])))
            moved = float(np.max(np.abs(r[n] - start[n])))
            assert err <= frac * moved, f"{n} after {k} updates: error {err:.3g} > {frac:g} * moved {moved:.3g}"
