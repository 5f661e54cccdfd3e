"""Inputs of ``lrspec verify``: the parameter list, and seeded synthetic values and gradients.

Synthetic data, chosen so that float32 roundoff stays well below the tolerance while mapping
mistakes show: initial values ``N(0, 1) * min(1, 100 * group lr)`` (0.1 for lr 0); gradients
``N(0, 1) * 10**u`` with a per-element ``u ~ U(-6, 0)`` fixed for the run, drawn one update
at a time. Every value is an ndarray of the run's dtype, float32 (default) or float64 (shape
``()`` included); both dtypes draw the same random stream, so a float64 run sees the float32
run's numbers before their rounding to float32. Parameters listed
without a shape get :data:`DEFAULT_SHAPE`; one with more than ``max_elements`` elements is run
as a 1-D parameter of ``max_elements`` elements (the update is elementwise), except for muon and
adafactor parameters, which keep their number of dimensions (:func:`synthetic_shapes`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.plan import Plan

__all__ = [
    "DEFAULT_SHAPE",
    "DTYPES",
    "ParamsLike",
    "Shape",
    "check_dtype",
    "read_params",
    "shape_of",
    "synthetic_data",
    "synthetic_shapes",
]

Shape = tuple[int, ...]
Array = npt.NDArray[Any]
ParamsLike = Mapping[str, Sequence[int] | None] | str | os.PathLike[str]

DEFAULT_SHAPE: Shape = (16,)
"""Shape used for a parameter listed without one."""

DTYPES = ("float32", "float64")
"""The dtypes verify runs in (parameters, gradients and every target's optimizer)."""


def check_dtype(dtype: str) -> str:
    """``dtype`` when it is one of :data:`DTYPES`, else a ``ValueError`` naming them."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def shape_of(entry: Any) -> Shape | None:
    """The shape of one entry of :func:`read_params`' mapping (a shape, a ParamMeta or None)."""
    if entry is None or isinstance(entry, tuple):
        return entry
    shape = getattr(entry, "shape", None)
    return None if shape is None else tuple(int(d) for d in shape)


def read_params(params: ParamsLike) -> dict[str, Any]:
    """Name -> shape (a tuple, or None: unknown) or a :class:`lrspec.resolve.params.ParamMeta`
    (shape and owning module, as parameter list files may give it), in the given order."""
    if isinstance(params, (str, os.PathLike)):
        from lrspec.tools import paramfile

        return dict(paramfile.read_params(params))
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping name -> shape or a path to a parameter list, got {type(params).__name__}"
        )
    out: dict[str, Any] = {}
    for name, shape in params.items():
        if shape is None or (hasattr(shape, "shape") and hasattr(shape, "module")):
            out[str(name)] = shape  # unknown, or a ParamMeta: resolve reads it as it is
        else:
            out[str(name)] = tuple(int(d) for d in shape)
    return out


ELEMENTWISE_EXCEPT = ("muon", "adafactor")
"""Families whose update of an element depends on other elements (muon: the whole matrix;
adafactor: row and column means of the squared gradient), so a reduced parameter keeps its
number of dimensions."""


def _shrink(shape: Shape, max_elements: int) -> Shape:
    """``shape`` with its largest dimension halved (rounded up) until it has at most
    ``max_elements`` elements; the number of dimensions is kept."""
    dims = list(shape)
    while math.prod(dims) > max_elements:
        k = dims.index(max(dims))
        dims[k] = (dims[k] + 1) // 2
    return tuple(dims)


def synthetic_shapes(
    shapes: Mapping[str, Shape | None], max_elements: int, families: Mapping[str, str] | None = None
) -> tuple[dict[str, Shape], list[str]]:
    """The shape each parameter runs with, and notes on the changes. ``families`` (name ->
    optimizer family, optional) keeps the number of dimensions of reduced parameters of the
    non-elementwise families (:data:`ELEMENTWISE_EXCEPT`): their largest dimension is halved
    until the parameter fits."""
    out: dict[str, Shape] = {}
    missing: list[str] = []
    reduced: list[str] = []
    shrunk: list[str] = []
    for name, shape in shapes.items():
        if shape is None:
            missing.append(name)
            out[name] = DEFAULT_SHAPE
        elif math.prod(shape) > max_elements:
            if families is not None and families.get(name) in ELEMENTWISE_EXCEPT:
                shrunk.append(name)
                out[name] = _shrink(shape, max_elements)
            else:
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
    if shrunk:
        notes.append(
            f"{len(shrunk)} muon/adafactor parameter(s) over {max_elements} elements run with their largest "
            "dimensions halved until they fit (same number of dimensions)"
        )
    return out, notes


def _as(values: Any, shape: Shape, dtype: Any) -> Array:
    """``values`` as an ndarray of ``dtype`` and ``shape`` (a shape ``()`` gives a 0-d array,
    not a NumPy scalar, so every framework gets an array)."""
    return np.asarray(values, dtype=dtype).reshape(shape)


def synthetic_data(
    plan: Plan, shapes: Mapping[str, Shape], steps: int, seed: int, dtype: str = "float32"
) -> tuple[dict[str, Array], Iterator[dict[str, Array]]]:
    """Initial values and the gradients of update 0, 1, ..., ``steps - 1`` as ``dtype`` arrays;
    the gradients are drawn one update at a time (memory does not grow with ``steps``), from
    the same seeded stream as the initial values."""
    dt = np.dtype(check_dtype(dtype))
    rng = np.random.default_rng(seed)
    init: dict[str, Array] = {}
    scales: dict[str, Array] = {}
    for name in plan.names:
        shape = shapes[name]
        lr = plan.group_of(name).lr
        scale = min(1.0, 100.0 * lr) if lr > 0 else 0.1
        init[name] = _as(rng.standard_normal(shape) * scale, shape, dt)
        scales[name] = np.asarray(10.0 ** rng.uniform(-6.0, 0.0, shape))

    def grads() -> Iterator[dict[str, Array]]:
        for _ in range(steps):
            yield {n: _as(rng.standard_normal(shapes[n]) * scales[n], shapes[n], dt) for n in plan.names}

    return init, grads()
