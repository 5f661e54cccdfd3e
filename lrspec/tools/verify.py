"""``lrspec verify``: check that every installed target applies a spec exactly as the reference does.

For users porting a recipe between frameworks. :func:`verify` needs no model: it resolves the
spec against parameter names and shapes, builds synthetic float32 parameters with those names
in each target's framework, feeds every target's compiled optimizer and
:func:`lrspec.reference.simulate`'s float64 optimizer the same seeded random gradients for
``steps`` updates, and compares after every update.

What is compared, per target and per plan group, after every update ``k`` (1 ... steps):

* ``abs``: the largest ``|p_target - p_reference|`` over the group's parameters;
* ``moved``: the largest ``|p_reference - p_initial|`` (the distance the group moved);
* ``rel = abs / moved`` (``inf`` when the reference did not move but the target did).

The update is *divergent* when ``abs > tolerance * moved + floor``, where
``floor = k * 2**-24 * max|p_reference|`` bounds float32 storage rounding (half an ulp per
update). Parameters frozen for every update so far (permanent freezes, and ``until_step``
freezes before their step) must be bitwise unchanged: any change is divergent. The report
gives, per group, the largest ``abs`` and ``rel`` over all updates and the first update
(0-based ``t``, as in the spec: the update that produced the divergent values) that diverged.

Synthetic data, chosen so that float32 roundoff stays well below the tolerance while
mapping mistakes show: initial values ``N(0, 1) * min(1, 100 * group lr)`` (small values
relative to the steps, so weight decay still matters and float32 resolution does not hide a
step); gradients ``N(0, 1) * 10**u`` with a per-element ``u ~ U(-6, 0)`` fixed for the run, so
some elements have tiny gradients (~1e-6, which exposes epsilon conventions) and others large
ones. Every family lrspec supports is elementwise, so a parameter with more than
``max_elements`` elements is represented by a 1-D parameter of ``max_elements`` elements
(the names, groups and every setting are unchanged).

Frameworks are imported only when their target is driven. Targets are driven with their
compiled objects as documented in docs/architecture.md: torch (``optimizer.step()`` then
``scheduler.step()``), tf (``optimizer.apply_gradients`` inside a ``tf.function``), tf-v1
(``apply_gradients`` train op run in a ``tf.compat.v1.Session``). A third-party target is
driven like one of those when it sets ``verify_driver`` (``"torch"``, ``"tf"`` or ``"tf-v1"``)
or, failing that, by the frameworks in its ``requires``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec.api import SpecLike, as_spec
from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec.resolve import resolve

__all__ = ["GroupDivergence", "TargetResult", "VerifyReport", "format_report", "verify"]

DEFAULT_TOLERANCE = 1e-4
"""Default tolerance: a fraction of the distance each group moved."""

F32_HALF_ULP = 2.0**-24
"""Relative rounding of one float32 store (half an ulp)."""

Shape = tuple[int, ...]
Array = npt.NDArray[Any]
ParamsLike = Mapping[str, Sequence[int] | None] | str | os.PathLike[str]

DEFAULT_SHAPE: Shape = (16,)
"""Shape used for a parameter listed without one."""


@dataclass(frozen=True)
class GroupDivergence:
    """How far one target's parameters of one plan group got from the reference.

    ``max_abs``/``max_rel`` are maxima over all updates; ``first_step`` is the 0-based update
    ``t`` whose result first exceeded the tolerance (None: never). ``frozen`` is True for a
    permanently frozen group (checked bitwise).
    """

    group: str
    params: int
    max_abs: float
    max_rel: float
    max_moved: float
    first_step: int | None
    frozen: bool

    @property
    def ok(self) -> bool:
        """True when no update exceeded the tolerance."""
        return self.first_step is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``inf`` is written as the string ``"inf"``)."""
        return {
            "group": self.group,
            "params": self.params,
            "max_abs": _json_float(self.max_abs),
            "max_rel": _json_float(self.max_rel),
            "max_moved": _json_float(self.max_moved),
            "first_step": self.first_step,
            "frozen": self.frozen,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class TargetResult:
    """The outcome for one target: ``status`` is ``"ok"``, ``"diverged"`` (some group exceeded
    the tolerance), ``"error"`` (compiling or stepping raised; see ``message``) or
    ``"skipped"`` (lrspec cannot drive it; see ``message``)."""

    target: str
    status: str
    groups: tuple[GroupDivergence, ...] = ()
    message: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for ``"ok"`` (and ``"skipped"``, which compared nothing)."""
        return self.status in ("ok", "skipped")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "target": self.target,
            "status": self.status,
            "ok": self.ok,
            "message": self.message,
            "options": {k: _jsonable(v) for k, v in self.options.items()},
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`: one :class:`TargetResult` per target, in order."""

    targets: tuple[TargetResult, ...]
    steps: int
    seed: int
    tolerance: float
    plan: Plan
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every target that was run agrees with the reference at every update."""
        return all(t.ok for t in self.targets) and any(t.status == "ok" for t in self.targets)

    def result(self, target: str) -> TargetResult:
        """The result of the target called ``target``."""
        for r in self.targets:
            if r.target == target:
                return r
        raise KeyError(f"no result for target {target!r}; targets: {', '.join(r.target for r in self.targets)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: ``{"ok", "steps", "seed", "tolerance", "plan", "notes", "targets": [...]}``."""
        return {
            "ok": self.ok,
            "steps": self.steps,
            "seed": self.seed,
            "tolerance": self.tolerance,
            "family": self.plan.family,
            "plan_fingerprint": self.plan.fingerprint,
            "notes": list(self.notes),
            "targets": [t.to_dict() for t in self.targets],
        }


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else ("-inf" if x < 0 else "nan"))


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else repr(v)


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------


def _read_params(params: ParamsLike) -> dict[str, Shape | None]:
    if isinstance(params, (str, os.PathLike)):
        from lrspec.tools.paramfile import read_params

        return dict(read_params(params))
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping name -> shape or a path to a parameter list, got {type(params).__name__}"
        )
    out: dict[str, Shape | None] = {}
    for name, shape in params.items():
        out[str(name)] = None if shape is None else tuple(int(d) for d in shape)
    return out


def _synthetic_shapes(shapes: Mapping[str, Shape | None], max_elements: int) -> tuple[dict[str, Shape], list[str]]:
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


def _synthetic_data(
    plan: Plan, shapes: Mapping[str, Shape], steps: int, seed: int
) -> tuple[dict[str, Array], list[dict[str, Array]]]:
    rng = np.random.default_rng(seed)
    init: dict[str, Array] = {}
    scales: dict[str, Array] = {}
    for name in plan.names:
        shape = shapes[name]
        lr = plan.group_of(name).lr
        scale = min(1.0, 100.0 * lr) if lr > 0 else 0.1
        init[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
        scales[name] = 10.0 ** rng.uniform(-6.0, 0.0, shape)
    grads = [
        {n: (rng.standard_normal(shapes[n]) * scales[n]).astype(np.float32) for n in plan.names} for _ in range(steps)
    ]
    return init, grads


# ------------------------------------------------------------------------------------------
# Drivers: make synthetic parameters in a framework, compile, step, read back
# ------------------------------------------------------------------------------------------


class _Driver:
    """Steps one target's compiled optimizer with given gradients."""

    def step(self, grads: Mapping[str, Array]) -> None:
        raise NotImplementedError

    def values(self) -> dict[str, Array]:
        raise NotImplementedError

    def close(self) -> None:
        """Release framework resources (sessions)."""


class _TorchDriver(_Driver):
    def __init__(self, target: Any, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        import torch

        self._torch = torch
        self.params = [(n, torch.nn.Parameter(torch.from_numpy(init[n].copy()))) for n in plan.names]
        self.compiled = target.compile(plan, self.params, **options)
        opt = self.compiled.optimizer
        in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
        self.trainable = [(n, p) for n, p in self.params if id(p) in in_opt]

    def step(self, grads: Mapping[str, Array]) -> None:
        torch = self._torch
        for n, p in self.trainable:
            p.grad = torch.from_numpy(grads[n].copy())
        self.compiled.optimizer.step()
        self.compiled.scheduler.step()
        self.compiled.optimizer.zero_grad(set_to_none=True)

    def values(self) -> dict[str, Array]:
        return {n: p.detach().cpu().numpy().copy() for n, p in self.params}


def _tf_name_of(v: Any) -> str:
    name = str(getattr(v, "path", None) or getattr(v, "name", ""))
    name = name.replace("/", ".")
    return name[:-2] if name.endswith(":0") else name


class _TfDriver(_Driver):
    def __init__(self, target: Any, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        import keras
        import tensorflow as tf

        self.variables = {n: keras.Variable(init[n].copy(), name=n, dtype="float32") for n in plan.names}
        self.compiled = target.compile(plan, list(self.variables.values()), **options)
        by_id = {id(v): n for n, v in self.variables.items()}
        tvars = list(self.compiled.trainable_variables)
        self.order = [by_id[id(v)] for v in tvars]
        optimizer = self.compiled.optimizer

        def apply(grads: list[Any]) -> None:
            optimizer.apply_gradients(zip(grads, tvars))

        self._apply: Callable[[list[Any]], Any] = tf.function(apply, reduce_retracing=True)
        self._tf = tf

    def step(self, grads: Mapping[str, Array]) -> None:
        if self.order:
            self._apply([self._tf.constant(grads[n]) for n in self.order])

    def values(self) -> dict[str, Array]:
        return {n: np.array(v.numpy(), copy=True) for n, v in self.variables.items()}


class _TfV1Driver(_Driver):
    def __init__(self, target: Any, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        import tensorflow as tf

        self._graph = tf.Graph()
        with self._graph.as_default():
            self.variables = {
                n: tf.compat.v1.get_variable(n, initializer=tf.constant(init[n]), use_resource=True) for n in plan.names
            }
            self.compiled = target.compile(plan, list(self.variables.values()), **options)
            by_id = {id(v): n for n, v in self.variables.items()}
            tvars = list(self.compiled.trainable_variables)
            self.order = [by_id[id(v)] for v in tvars]
            self.placeholders = {n: tf.compat.v1.placeholder(tf.float32, init[n].shape) for n in self.order}
            step = tf.compat.v1.train.get_or_create_global_step()
            self.train_op = (
                self.compiled.apply_gradients(
                    [(self.placeholders[n], v) for n, v in zip(self.order, tvars)], global_step=step
                )
                if tvars
                else tf.no_op()
            )
            init_op = tf.compat.v1.global_variables_initializer()
        self.session = tf.compat.v1.Session(graph=self._graph)
        self.session.run(init_op)

    def step(self, grads: Mapping[str, Array]) -> None:
        self.session.run(self.train_op, {self.placeholders[n]: grads[n] for n in self.order})

    def values(self) -> dict[str, Array]:
        vals = self.session.run(self.variables)
        return {n: np.array(a, copy=True) for n, a in vals.items()}

    def close(self) -> None:
        self.session.close()


_DRIVERS: dict[str, Callable[[Any, Plan, Mapping[str, Array], Mapping[str, Any]], _Driver]] = {
    "torch": _TorchDriver,
    "tf": _TfDriver,
    "tf-v1": _TfV1Driver,
}


def _driver_kind(name: str, target: Any) -> str | None:
    if name in _DRIVERS:
        return name
    kind = getattr(target, "verify_driver", None)
    if kind in _DRIVERS:
        return str(kind)
    requires = set(getattr(target, "requires", ()) or ())
    if "torch" in requires:
        return "torch"
    if "keras" in requires:
        return "tf"
    if "tensorflow" in requires:
        return "tf-v1"
    return None


def _default_targets() -> list[str]:
    from lrspec.targets import available_targets

    names = [t.name for t in available_targets() if t.installed]
    if not names:
        raise TargetError(
            "lrspec verify: no target is installed; install one with pip install 'lrspec[torch]' or 'lrspec[tf]'"
        )
    return names


# ------------------------------------------------------------------------------------------
# Comparison
# ------------------------------------------------------------------------------------------


class _GroupTracker:
    def __init__(self, name: str, members: Sequence[str], frozen: bool, tolerance: float) -> None:
        self.name = name
        self.members = list(members)
        self.frozen = frozen
        self.tolerance = tolerance
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.max_moved = 0.0
        self.first_step: int | None = None

    def update(
        self,
        k: int,
        got: Mapping[str, Array],
        ref: Mapping[str, Array],
        init: Mapping[str, Array],
        frozen_so_far: Mapping[str, bool],
    ) -> None:
        abs_err = moved = pmax = 0.0
        bad = False
        for n in self.members:
            g = got[n].astype(np.float64)
            diff = float(np.max(np.abs(g - ref[n]), initial=0.0)) if np.all(np.isfinite(g)) else math.inf
            abs_err = max(abs_err, diff)
            moved = max(moved, float(np.max(np.abs(ref[n] - init[n]), initial=0.0)))
            pmax = max(pmax, float(np.max(np.abs(ref[n]), initial=0.0)))
            if frozen_so_far[n] and not np.array_equal(got[n], init[n]):
                bad = True
        rel = abs_err / moved if moved > 0 else (math.inf if abs_err > 0 else 0.0)
        floor = k * F32_HALF_ULP * pmax
        if not (abs_err <= self.tolerance * moved + floor):
            bad = True
        self.max_abs = max(self.max_abs, abs_err)
        self.max_rel = max(self.max_rel, rel)
        self.max_moved = max(self.max_moved, moved)
        if bad and self.first_step is None:
            self.first_step = k - 1

    def result(self) -> GroupDivergence:
        return GroupDivergence(
            self.name, len(self.members), self.max_abs, self.max_rel, self.max_moved, self.first_step, self.frozen
        )


def verify(
    spec: SpecLike,
    params: ParamsLike,
    targets: Iterable[str] | str | None = None,
    steps: int = 50,
    seed: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    max_elements: int = 4096,
) -> VerifyReport:
    """Check that each target's compiled optimizer reproduces :mod:`lrspec.reference` for ``spec``.

    ``spec``: a Spec, dict or path. ``params``: a mapping name -> shape (None: unknown, a
    1-D shape of 16 is used) or a path to a parameter list (see :mod:`lrspec.tools.paramfile`).
    ``targets``: names (or one comma-separated string); None means every installed target.
    A named target that cannot be loaded raises :class:`lrspec.TargetError`. ``options`` maps
    a target name to extra compile options (e.g. ``{"tf": {"strategy": "gradient-scale"}}``).
    ``tolerance`` is the allowed divergence as a fraction of the distance each group moved
    (plus the float32 floor described in the module docstring). Errors raised while
    compiling or stepping one target are reported as that target's ``"error"`` status.
    """
    from lrspec.targets import get_target

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    spec_obj = as_spec(spec)
    shapes, notes = _synthetic_shapes(_read_params(params), max_elements)
    plan = resolve(spec_obj, shapes)
    if targets is None:
        names = _default_targets()
    elif isinstance(targets, str):
        names = [t.strip() for t in targets.split(",") if t.strip()]
    else:
        names = [str(t) for t in targets]
    if not names:
        raise TargetError("lrspec verify: no targets given")
    init, grads = _synthetic_data(plan, shapes, steps, seed)
    opts = dict(options or {})

    drivers: dict[str, _Driver] = {}
    results: dict[str, TargetResult] = {}
    for name in names:
        target = get_target(name)
        kind = _driver_kind(name, target)
        target_opts = dict(opts.get(name, {}))
        if kind is None:
            results[name] = TargetResult(
                name,
                "skipped",
                message="lrspec verify cannot drive this target (set verify_driver)",
                options=target_opts,
            )
            continue
        try:
            drivers[name] = _DRIVERS[kind](target, plan, init, target_opts)
        except Exception as exc:
            results[name] = TargetResult(name, "error", message=f"{type(exc).__name__}: {exc}", options=target_opts)

    from lrspec.reference import ReferenceOptimizer

    ref = ReferenceOptimizer(plan, init)
    init64 = {n: a.astype(np.float64) for n, a in init.items()}
    trackers = {name: [_GroupTracker(g.name, g.params, g.frozen, tolerance) for g in plan.groups] for name in drivers}
    try:
        for t in range(steps):
            ref.step(grads[t])
            ref_params = ref.params
            frozen_so_far = {n: plan.group_of(n).is_frozen_at(t) for n in plan.names}
            for name in list(drivers):
                try:
                    drivers[name].step(grads[t])
                    got = drivers[name].values()
                except Exception as exc:
                    results[name] = TargetResult(
                        name,
                        "error",
                        message=f"update {t}: {type(exc).__name__}: {exc}",
                        options=dict(opts.get(name, {})),
                    )
                    drivers.pop(name).close()
                    continue
                for tracker in trackers[name]:
                    tracker.update(t + 1, got, ref_params, init64, frozen_so_far)
    finally:
        for d in drivers.values():
            d.close()
    for name in drivers:
        groups = tuple(tr.result() for tr in trackers[name])
        status = "ok" if all(g.ok for g in groups) else "diverged"
        results[name] = TargetResult(name, status, groups, options=dict(opts.get(name, {})))
    return VerifyReport(tuple(results[n] for n in names), steps, seed, tolerance, plan, tuple(notes))


# ------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------

WIDTH = 100


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.1e}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def format_report(report: VerifyReport) -> str:
    """A plain-text table (at most 100 columns): one row per target and plan group with the
    largest absolute and relative divergence from the reference and the first divergent update."""
    head = (
        f"lrspec verify: {report.plan.family}, {len(report.plan.names)} parameters, "
        f"{len(report.plan.groups)} groups, {report.steps} updates, seed {report.seed}"
    )
    lines = [
        _cut(head, WIDTH),
        _cut(
            f"tolerance: {report.tolerance:g} of the distance moved (+ float32 rounding), "
            "against lrspec.reference (float64)",
            WIDTH,
        ),
    ]
    lines += [_cut(f"note: {n}", WIDTH) for n in report.notes]
    cols = f"{'target':<12} {'group':<30} {'params':>6} {'max abs':>9} {'max rel':>9} {'moved':>9} {'first bad':>9}  status"
    lines += ["", cols, "-" * len(cols)]
    for r in report.targets:
        label = r.target + ("*" if r.options else "")
        if not r.groups:
            lines.append(_cut(f"{_cut(label, 12):<12} {r.status}: {r.message or ''}", WIDTH))
            continue
        for g in r.groups:
            first = "-" if g.first_step is None else f"t={g.first_step}"
            status = ("ok" if g.ok else "DIVERGED") + (" (frozen)" if g.frozen else "")
            lines.append(
                _cut(
                    f"{_cut(label, 12):<12} {_cut(g.group, 30):<30} {g.params:>6} {_fmt(g.max_abs):>9} "
                    f"{_fmt(g.max_rel):>9} {_fmt(g.max_moved):>9} {first:>9}  {status}",
                    WIDTH,
                )
            )
    with_options = [r for r in report.targets if r.options]
    for r in with_options:
        opts = ", ".join(f"{k}={v!r}" for k, v in r.options.items())
        lines.append(_cut(f"* {r.target} compiled with {opts}", WIDTH))
    lines.append("")
    compared = [r for r in report.targets if r.status in ("ok", "diverged")]
    bad = [r.target for r in report.targets if not r.ok]
    if report.ok:
        lines.append(f"result: all {len(compared)} target(s) agree with the reference")
    else:
        lines.append(_cut(f"result: DIVERGED: {', '.join(bad) or 'no target was compared'}", WIDTH))
    return "\n".join(lines)
