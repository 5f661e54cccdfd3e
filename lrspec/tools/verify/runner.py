"""The run loop of ``lrspec verify``: every target's driver and the reference, update by update."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from lrspec.api import SpecLike, as_spec
from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec.resolve import resolve
from lrspec.targets import Array, Target, VerifyDriver, available_targets, get_target
from lrspec.tools.verify.compare import GroupTracker, default_tolerance, half_ulp
from lrspec.tools.verify.inputs import (
    ParamsLike,
    check_dtype,
    read_params,
    shape_of,
    synthetic_data,
    synthetic_shapes,
)
from lrspec.tools.verify.report import TargetResult, VerifyReport

__all__ = ["default_targets", "verify"]


def default_targets() -> list[str]:
    """The installed targets, in registry order; :class:`lrspec.TargetError` when there is none."""
    infos = available_targets()
    names = [t.name for t in infos if t.installed]
    if not names:
        hints = "; ".join(f"{t.name}: pip install '{t.extra}'" for t in infos)
        raise TargetError(f"lrspec verify: no target is installed; install one ({hints})")
    return names


def _target_names(targets: Iterable[str] | str | None) -> list[str]:
    if targets is None:
        return default_targets()
    if isinstance(targets, str):
        names = [t.strip() for t in targets.split(",") if t.strip()]
    else:
        names = [str(t) for t in targets]
    if not names:
        raise TargetError("lrspec verify: no targets given")
    return names


def _error(name: str, exc: BaseException, options: Mapping[str, Any], when: str = "") -> TargetResult:
    return TargetResult(name, "error", message=f"{when}{type(exc).__name__}: {exc}", options=dict(options))


def _families(plan: Plan) -> tuple[str, ...]:
    return tuple(getattr(plan, "families", ())) or (plan.family,)


def driver_options(plan: Plan, options: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    """What a target's driver gets: the user's compile ``options``, plus ``dtype`` in float64
    mode, plus ``newton_schulz_dtype`` = the run's dtype for a plan with a muon group when the
    user did not choose one (verify checks the update rules exactly; torch's stock bfloat16
    Newton-Schulz is a documented approximation, see docs/crossframework.md)."""
    out = dict(options)
    if dtype != "float32":
        out["dtype"] = dtype
    if "muon" in _families(plan):
        out.setdefault("newton_schulz_dtype", dtype)
    return out


def _drivers(
    plan: Plan,
    init: Mapping[str, Array],
    targets: Mapping[str, Target],
    opts: Mapping[str, Mapping[str, Any]],
    dtype: str,
) -> tuple[dict[str, VerifyDriver], dict[str, TargetResult]]:
    """A driver per target that has one; a "skipped"/"error" result for each that has none."""
    drivers: dict[str, VerifyDriver] = {}
    results: dict[str, TargetResult] = {}
    for name, target in targets.items():
        options = dict(opts.get(name, {}))
        try:
            drivers[name] = target.verify_driver(plan, init, driver_options(plan, options, dtype))
        except TargetError as exc:
            results[name] = TargetResult(name, "skipped", message=str(exc), options=options)
        except Exception as exc:
            results[name] = _error(name, exc, options)
    return drivers, results


def _check_dtype_of(name: str, got: Mapping[str, Array], dtype: str) -> None:
    """A driver that ignored ``dtype`` would be compared at the wrong tolerance: refuse it."""
    for n, a in got.items():
        if np.asarray(a).dtype != np.dtype(dtype):
            raise TargetError(
                f"target {name!r}: its verify driver returned {np.asarray(a).dtype} values for {n!r}, "
                f"not {dtype} (does it support dtype={dtype!r}?)"
            )


def verify(
    spec: SpecLike,
    params: ParamsLike,
    targets: Iterable[str] | str | None = None,
    steps: int = 50,
    seed: int = 0,
    tolerance: float | None = None,
    *,
    dtype: str = "float32",
    options: Mapping[str, Mapping[str, Any]] | None = None,
    max_elements: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check that each target's compiled optimizer reproduces :mod:`lrspec.reference` for ``spec``.

    ``spec``: a Spec, dict or path. ``params``: a mapping name -> shape (None: unknown, a
    1-D shape of 16 is used) or a path to a parameter list (see :mod:`lrspec.tools.paramfile`).
    ``targets``: names (or one comma-separated string); None means every installed target.
    A named target that cannot be loaded raises :class:`lrspec.TargetError`. ``options`` maps
    a target name to extra compile options (``{name: {"strategy": "gradient-scale"}}``).
    ``dtype``: ``"float32"`` (default) or ``"float64"``: the synthetic parameters, gradients
    and every target's parameters and optimizer are of that dtype (each driver gets
    ``options["dtype"]`` in float64 mode; a plan with muon groups is compiled with
    ``newton_schulz_dtype`` = ``dtype`` unless ``options`` say otherwise). ``tolerance`` is the
    allowed divergence as a fraction of the distance each group moved (plus the storage
    rounding floor of :mod:`lrspec.tools.verify.compare`); None: 1e-4 in float32, 1e-10 in
    float64. The spec is resolved against the real shapes (and module information) of
    ``params``; large parameters then run with smaller shapes
    (:func:`lrspec.tools.verify.inputs.synthetic_shapes`). A target without a verify driver
    is ``"skipped"``; errors raised while building or stepping one target's driver are
    reported as that target's ``"error"`` status. ``progress``, when given, is called as
    ``progress(done, steps)`` after every update (``lrspec verify`` shows it on a terminal,
    :mod:`lrspec.tools.progress`). Memory does not grow with ``steps``: the gradients are
    drawn one update at a time.
    """
    from lrspec.reference import ReferenceOptimizer

    check_dtype(dtype)
    if tolerance is None:
        tolerance = default_tolerance(dtype)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    spec_obj = as_spec(spec)
    listed = read_params(params)
    real_plan = resolve(spec_obj, listed)
    families = {n: getattr(real_plan.group_of(n), "family", "") or real_plan.family for n in real_plan.names}
    shapes, notes = synthetic_shapes({n: shape_of(v) for n, v in listed.items()}, max_elements, families)
    plan = dataclasses.replace(real_plan, _shapes=tuple(shapes[n] for n in real_plan.names))
    names = _target_names(targets)
    loaded = {name: get_target(name) for name in names}  # unknown names raise before any driving
    init, grads = synthetic_data(plan, shapes, steps, seed, dtype)
    opts = dict(options or {})

    drivers, results = _drivers(plan, init, loaded, opts, dtype)
    ref = ReferenceOptimizer(plan, init, run_dtype=dtype)  # adafactor's eps1=None: the run's machine eps
    init64 = {n: a.astype(np.float64) for n, a in init.items()}
    rounding = half_ulp(dtype)
    trackers = {
        name: [GroupTracker(g.name, g.params, g.frozen, tolerance, rounding) for g in plan.groups] for name in drivers
    }
    try:
        for t, grad in enumerate(grads):
            ref.step(grad)
            ref_params = ref.params
            frozen_so_far = {n: plan.group_of(n).is_frozen_at(t) for n in plan.names}
            for name in list(drivers):
                try:
                    drivers[name].step(grad)
                    got = drivers[name].values()
                    if t == 0:
                        _check_dtype_of(name, got, dtype)
                except Exception as exc:
                    results[name] = _error(name, exc, opts.get(name, {}), f"update {t}: ")
                    drivers.pop(name).close()
                    continue
                for tracker in trackers[name]:
                    tracker.update(t + 1, got, ref_params, init64, frozen_so_far)
            if progress is not None:
                progress(t + 1, steps)
    finally:
        for d in drivers.values():
            d.close()
    for name in drivers:
        groups = tuple(tr.result() for tr in trackers[name])
        status = "ok" if all(g.ok for g in groups) else "diverged"
        results[name] = TargetResult(name, status, groups, options=dict(opts.get(name, {})))
    return VerifyReport(tuple(results[n] for n in names), steps, seed, tolerance, plan, tuple(notes), dtype=dtype)
