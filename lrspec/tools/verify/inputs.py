"""Inputs of ``lrspec verify``: the parameter list, and seeded synthetic values and gradients.

Synthetic data, chosen so that float32 roundoff stays well below the tolerance while mapping
mistakes show: initial values ``N(0, 1) * min(1, 100 * group lr)`` (0.1 for lr 0); gradients
``N(0, 1) * 10**u`` with a per-element ``u ~ U(-6, 0)`` fixed for the run, drawn one update
at a time. Every value is a float32 ndarray (shape ``()`` included). Parameters listed
without a shape get :data:`DEFAULT_SHAPE`; one with more than ``max_elements`` elements is run
as a 1-D parameter of ``max_elements`` elements (every family is elementwise).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.plan import Plan

__all__ = ["DEFAULT_SHAPE", "ParamsLike", "Shape", "read_params", "synthetic_data", "synthetic_shapes"]

Shape = tuple[int, ...]
Array = npt.NDArray[Any]
ParamsLike = Mapping[str, Sequence[int] | None] | str | os.PathLike[str]

DEFAULT_SHAPE: Shape = (16,)
"""Shape used for a parameter listed without one."""


def read_params(params: ParamsLike) -> dict[str, Shape | None]:
    if isinstance(params, (str, os.PathLike)):
        from lrspec.tools import paramfile

        return dict(paramfile.read_params(params))
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping name -> shape or a path to a parameter list, got {type(params).__name__}"
        )
    out: dict[str, Shape | None] = {}
    for name, shape in params.items():
        out[str(name)] = None if shape is None else tuple(int(d) for d in shape)
    return out


def synthetic_shapes(shapes: Mapping[str, Shape | None], max_elements: int) -> tuple[dict[str, Shape], list[str]]:
    out: dict[str, Shape] = {}
    missing: list[str] = []
    reduced: list[str] = []
    for name, shape in shapes.items():
        if shape is None:
            missing.append(name)
            out[name] = DEFAULT_SHAPE
        elif math.prod(shape) > max_elements:
            reduced.append(name)
            out[name] = (max_elements,)
        else:
            out[name] = shape
    notes = []
    if missing:
        notes.append(f"{len(missing)} parameter(s) listed without a shape run with shape {DEFAULT_SHAPE}")
    if reduced:
        notes.append(
            f"{len(reduced)} parameter(s) over {max_elements} elements run as {max_elements} (updates are elementwise)"
        )
    return out, notes


def _f32(values: Any, shape: Shape) -> Array:
    """``values`` as a float32 ndarray of ``shape`` (a shape ``()`` gives a 0-d array, not a
    NumPy scalar, so every framework gets an array)."""
    return np.asarray(values, dtype=np.float32).reshape(shape)


def synthetic_data(
    plan: Plan, shapes: Mapping[str, Shape], steps: int, seed: int
) -> tuple[dict[str, Array], Iterator[dict[str, Array]]]:
    """Initial values and the gradients of update 0, 1, ..., ``steps - 1``; the gradients are
    drawn one update at a time (memory does not grow with ``steps``), from the same seeded
    stream as the initial values."""
    rng = np.random.default_rng(seed)
    init: dict[str, Array] = {}
    scales: dict[str, Array] = {}
    for name in plan.names:
        shape = shapes[name]
        lr = plan.group_of(name).lr
        scale = min(1.0, 100.0 * lr) if lr > 0 else 0.1
        init[name] = _f32(rng.standard_normal(shape) * scale, shape)
        scales[name] = np.asarray(10.0 ** rng.uniform(-6.0, 0.0, shape))

    def grads() -> Iterator[dict[str, Array]]:
        for _ in range(steps):
            yield {n: _f32(rng.standard_normal(shapes[n]) * scales[n], shapes[n]) for n in plan.names}

    return init, grads()
