"""Lockstep training of one scenario in every target, with the comparisons the suite asserts.

The runners (:mod:`xf_runners`: torch, tf, tf gradient-scale, tf-v1, optax) each train one
framework's twin with one target's compiled optimizer and report, per update, the gradients
they computed and applied. The harness compares, after every update:

* **across frameworks**: every parameter of every target against torch's (torch's converted
  to the channels-last layout that Keras, v1 and Flax share): ``||p_X - p_torch|| / ||p_torch||``
  per tensor (``cross``, asserted) and ``max|p_X - p_torch| / max|p_torch|`` (reported);
* **against the reference**: each target against a float64 ``lrspec.reference`` optimizer fed
  the gradients that target computed, starting from the same float32 values:
  ``err = max|p_X - p_ref|``, ``moved = max|p_ref - p_0|`` per tensor; the bound is
  ``err <= REF_TOL * moved + k * 2**-24 * max|p_ref|`` (the second term bounds float32 storage
  rounding, half an ulp per update; it matters only for layers whose lr is tiny next to their
  weights, e.g. conv layers at lr 1e-5). Tensors with more than ``SUBSAMPLE_ABOVE`` elements
  are compared on a fixed random subset of ``SUBSAMPLE`` elements (every family is
  elementwise, so the subset's trajectory is exactly the reference's on those elements);
* **freezes**: a parameter frozen at update ``t`` is bitwise equal to its initial value.

**float64 proof mode** (``run_scenario(..., dtype="float64")``): models, data, gradients and
optimizers in float64 in every framework; the bounds become ``REF_TOL_F64 * moved + k *
2**-53 * max|p_ref|`` against the reference and ``CROSS_TOL_F64`` (norm-relative) between
frameworks, for every scenario: at float64 the frameworks' different kernels no longer
matter, so the bound shows that the update rules are the same formulas.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xf_twins as X
from xf_runners import KerasRunner, OptaxRunner, Runner, TorchRunner, V1Runner

import lrspec
from lrspec.reference import ReferenceOptimizer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

STEPS = 50
CROSS_TOL = 1e-4
CROSS_TOL_CHAOTIC = 2e-3
"""Between-framework tolerance for the Adam scenarios on the 2M-parameter MNIST network (lr 1e-3
and 1e-2). Adam's early updates are close to ``lr * sign(g)``, so a gradient element that
cancels to about eps in the batch sum carries its float32 roundoff (which differs between
frameworks) into a visible step, and later a ReLU flip amplifies it further. Measured:
8.7e-4 (scenario 1, fc1.bias from update 42 on), 1.7e-4 / 1.9e-4 (scenarios 3a / 3b, fc1.weight
from update 1). The optimizers are exact: each target matches the reference fed its own
gradients (see ``ref_budget``); this is the model's sensitivity to gradient roundoff."""
CROSS_TOL_BY_SCENARIO = {
    "1-finetune_cnn": CROSS_TOL_CHAOTIC,
    "3a-exponential_decay": CROSS_TOL_CHAOTIC,
    "3b-exponential_decay_smooth": CROSS_TOL_CHAOTIC,
}
REF_TOL = 1e-4
SUBSAMPLE_ABOVE = 65536
SUBSAMPLE = 8192
F32_HALF_ULP = 2.0**-24
REF_TOL_F64 = 1e-10
CROSS_TOL_F64 = 1e-10
F64_HALF_ULP = 2.0**-53


@dataclass(frozen=True)
class Bounds:
    """The asserted bounds of one run: against the reference ``ref * moved + k * half_ulp *
    max|p_ref|``, across frameworks ``cross`` (norm-relative)."""

    ref: float
    half_ulp: float
    cross: float


def bounds(scenario_id: str, dtype: str) -> Bounds:
    """float32: REF_TOL and CROSS_TOL (CROSS_TOL_CHAOTIC for the three Adam scenarios on the
    MNIST network); float64: REF_TOL_F64 and CROSS_TOL_F64 for every scenario."""
    if dtype == "float64":
        return Bounds(REF_TOL_F64, F64_HALF_ULP, CROSS_TOL_F64)
    return Bounds(REF_TOL, F32_HALF_ULP, CROSS_TOL_BY_SCENARIO.get(scenario_id, CROSS_TOL))


@dataclass(frozen=True)
class Scenario:
    """A spec from examples/ trained on one twin; ``options`` are compile options given to
    every target (e.g. muon's ``newton_schulz_dtype``)."""

    id: str
    spec: str
    model: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def path(self) -> Path:
        return EXAMPLES / self.spec


SCENARIOS = (
    Scenario("1-finetune_cnn", "finetune_cnn.yaml", "mnist_cnn"),
    Scenario("2a-pretrained_convnet_sgd", "pretrained_convnet_sgd.yaml", "convnet6"),
    Scenario("2b-pretrained_convnet_momentum", "pretrained_convnet_momentum.yaml", "convnet6"),
    Scenario("3a-exponential_decay", "exponential_decay.yaml", "mnist_cnn"),
    Scenario("3b-exponential_decay_smooth", "exponential_decay_smooth.yaml", "mnist_cnn"),
    Scenario("4-lenet_features_classifier", "lenet_features_classifier.yaml", "lenet"),
    Scenario("5a-retrain_last_layer", "retrain_last_layer.yaml", "mnist_cnn"),
    Scenario("5b-retrain_last_two_layers", "retrain_last_two_layers.yaml", "mnist_cnn"),
    Scenario("6-transformer_llrd", "transformer_llrd.yaml", "transformer"),
    Scenario("7-gradual_unfreeze", "gradual_unfreeze.yaml", "convnet6"),
)

F64_MODEL = {"mnist_cnn": "mnist_small"}
"""The float64 runs train the MNIST scenarios' specs on :data:`xf_twins.SMALL_TWINS`'s
``mnist_small`` (mnist_cnn's layer names and structure, 1/5 to 1/32 of its widths): float64
convolutions of the 2.1 M-parameter network cost about two minutes per scenario on CPU."""

NS_F64 = (("newton_schulz_dtype", "float64"),)

F64_SCENARIOS = (
    *(dataclasses.replace(s, model=F64_MODEL.get(s.model, s.model)) for s in SCENARIOS),
    Scenario("8-muon_adamw", "muon_adamw.yaml", "transformer", NS_F64),
)
"""The float64 proof runs: every scenario (the MNIST ones on ``mnist_small``), and muon + adamw
per group (examples/muon_adamw.yaml on the transformer twin; Newton-Schulz in float64 on
every target)."""

# -------------------------------------------------------------------------------------------
# Comparison
# -------------------------------------------------------------------------------------------


@dataclass
class TargetStats:
    """Maxima over all updates and tensors for one target of one scenario."""

    label: str
    cross_rel: float = 0.0  # max over tensors of ||p - p_torch|| / ||p_torch|| (asserted)
    cross_max_rel: float = 0.0  # max over tensors of max|p - p_torch| / max|p_torch| (reported)
    cross_abs: float = 0.0
    ref_budget: float = 0.0  # max err / (REF_TOL * moved + floor); <= 1 passes
    ref_rel_final: float = 0.0  # max err / moved after the last update (SEMANTICS' "upd")
    frozen_checked: int = 0  # (tensor, update) pairs checked bitwise
    failures: list[str] = field(default_factory=list)


class _Reference:
    """A float64 reference optimizer on the (subsampled) parameters of one runner."""

    def __init__(self, runner: Runner, init: Mapping[str, np.ndarray]) -> None:
        rng = np.random.default_rng(1234)
        self.index: dict[str, np.ndarray | None] = {}
        for n, a in init.items():
            self.index[n] = np.sort(rng.choice(a.size, SUBSAMPLE, replace=False)) if a.size > SUBSAMPLE_ABOVE else None
        plan = dataclasses.replace(runner.plan, _shapes=tuple(None for _ in runner.plan.names))
        self.init = {n: self.take(n, a).astype(np.float64) for n, a in init.items()}
        self.opt = ReferenceOptimizer(plan, self.init, run_dtype=str(np.asarray(next(iter(init.values()))).dtype))

    def take(self, name: str, a: np.ndarray) -> np.ndarray:
        idx = self.index[name]
        return a if idx is None else a.reshape(-1)[idx]


def optax_available() -> bool:
    """True when the optax target and the Flax twins can run (jax, optax and flax installed)."""
    return all(importlib.util.find_spec(m) is not None for m in ("jax", "optax", "flax", "lrspec_optax"))


def run_scenario(
    scenario: Scenario,
    with_optax: bool = True,
    dtype: str = "float32",
    keras_target: str = "tf",
    gradient_scale: bool = True,
) -> dict[str, Any]:
    """Train ``scenario`` for STEPS updates in torch, Keras (target ``keras_target``), Keras with
    ``strategy="gradient-scale"`` (where the compiler allows it, when ``gradient_scale``),
    tf-v1 and optax (a Flax twin; when ``with_optax``), in lockstep, everything in ``dtype``.
    Returns ``{"stats": {label: TargetStats}, "refusal": the gradient-scale refusal message or
    None, "seconds", "plans": {label: plan}, "torch_names": {label: {target name: torch name}},
    "optax_impl": how the optax target built the update (or None), "v1_global_step",
    "cross_tol", "bounds"}``."""
    start = time.perf_counter()
    twin = X.get_twin(scenario.model)
    spec = lrspec.load(scenario.path)
    weights = X.torch_weights(twin.torch_model(seed=0))
    batches = twin.data(seed=0, dtype=np.dtype(dtype))
    opts = dict(scenario.options)
    limits = bounds(scenario.id, dtype)

    runners: list[Runner] = [
        TorchRunner(twin, spec, weights, batches, dtype, **opts),
        KerasRunner(twin, spec, weights, batches, dtype=dtype, target=keras_target, **opts),
    ]
    refusal: str | None = None
    if gradient_scale:
        try:
            runners.append(
                KerasRunner(
                    twin,
                    spec,
                    weights,
                    batches,
                    label="tf-gradient-scale",
                    slot=1,
                    dtype=dtype,
                    target=keras_target,
                    strategy="gradient-scale",
                    **opts,
                )
            )
        except lrspec.TargetError as exc:
            refusal = str(exc)
    v1 = V1Runner(twin, spec, weights, batches, dtype, **opts)
    runners.append(v1)
    optax_impl: str | None = None
    if with_optax:
        optax_runner = OptaxRunner(twin, spec, weights, batches, dtype, **opts)
        runners.append(optax_runner)
        optax_impl = optax_runner.implementation
    stats = {r.label: TargetStats(r.label) for r in runners}
    try:
        _lockstep(twin, runners, stats, limits)
        v1_step = v1.global_step_value()
    finally:
        for r in runners:
            r.close()
    return {
        "stats": stats,
        "refusal": refusal,
        "seconds": time.perf_counter() - start,
        "plans": {r.label: r.plan for r in runners},
        "torch_names": {r.label: r.torch_name for r in runners},
        "optax_impl": optax_impl,
        "v1_global_step": v1_step,
        "cross_tol": limits.cross,
        "bounds": limits,
    }


def _lockstep(twin: X.Twin, runners: list[Runner], stats: Mapping[str, TargetStats], limits: Bounds) -> None:
    cross_tol = limits.cross
    inits = {r.label: r.values() for r in runners}
    refs = {r.label: _Reference(r, inits[r.label]) for r in runners}
    assert runners[0].label == "torch"
    for t in range(STEPS):
        current: dict[str, dict[str, np.ndarray]] = {}
        for r in runners:
            grads = r.step(t)
            ref = refs[r.label]
            ref.opt.step({n: ref.take(n, g) for n, g in grads.items()})
            current[r.label] = r.values()
        k = t + 1
        base: dict[str, tuple[np.ndarray, float, float]] | None = None
        for r in runners:
            st = stats[r.label]
            vals = current[r.label]
            ref = refs[r.label]
            ref_vals = ref.opt.params
            for n in r.names:
                a = vals[n]
                if r.plan.group_of(n).is_frozen_at(t):
                    st.frozen_checked += 1
                    if not np.array_equal(a, inits[r.label][n]):
                        st.failures.append(f"{r.label}: frozen {n} changed at update {t}")
                got = ref.take(n, a).astype(np.float64)
                want = ref_vals[n]
                err = float(np.max(np.abs(got - want)))
                moved = float(np.max(np.abs(want - ref.init[n])))
                floor = k * limits.half_ulp * float(np.max(np.abs(want)))
                allowed = limits.ref * moved + floor
                budget = err / allowed if allowed > 0 else (0.0 if err == 0 else float("inf"))
                st.ref_budget = max(st.ref_budget, budget)
                if k == STEPS and moved > 0:
                    st.ref_rel_final = max(st.ref_rel_final, err / moved)
                if not budget <= 1.0 and len(st.failures) < 20:
                    st.failures.append(
                        f"{r.label}: {n} vs reference after update {t}: err {err:.3e} > {limits.ref} * moved "
                        f"{moved:.3e} + rounding floor {floor:.3e}"
                    )
            if r is not runners[0]:
                if base is None:
                    base = torch_base(twin, current["torch"])
                norm_rel, rel, diff, worst = cross_compare(r, vals, base)
                st.cross_rel = max(st.cross_rel, norm_rel)
                st.cross_max_rel = max(st.cross_max_rel, rel)
                st.cross_abs = max(st.cross_abs, diff)
                if not norm_rel <= cross_tol and len(st.failures) < 20:
                    st.failures.append(
                        f"{r.label}: {worst} differs from torch by {norm_rel:.3e} (norm-relative) after update {t}"
                    )


def torch_base(twin: X.Twin, torch_values: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, float, float]]:
    """Torch's values in TF layout (also Flax's) by torch name, each with its max-abs and its
    2-norm."""
    out = {}
    for tn, a in torch_values.items():
        b = twin.to_tf(tn, a).reshape(-1)
        out[tn] = (b, float(np.max(np.abs(b))), _norm(b))
    return out


def _norm(x: np.ndarray) -> float:
    """2-norm (in the values' dtype: float32 BLAS is ample precision for a ratio checked
    against 1e-4, float64 for 1e-10)."""
    return float(np.sqrt(np.dot(x, x)))


def cross_compare(
    runner: Runner, values: Mapping[str, np.ndarray], base: Mapping[str, tuple[np.ndarray, float, float]]
) -> tuple[float, float, float, str]:
    """``values`` (runner layout and names) against torch's (see :func:`torch_base`): per tensor
    the norm-relative difference ``||a - b|| / ||b||``, the elementwise ``max|a - b| / max|b|``
    and ``max|a - b|``. Returns (max norm-rel, max elementwise rel, max abs, worst tensor)."""
    worst_norm, worst_rel, worst_abs, worst = 0.0, 0.0, 0.0, ""
    for n in runner.names:
        b, scale, norm_b = base[runner.torch_name[n]]
        d = values[n].reshape(-1) - b  # exact for nearby values (Sterbenz)
        diff = float(np.max(np.abs(d)))
        norm_d = _norm(d)
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
        norm_rel = norm_d / norm_b if norm_b > 0 else (0.0 if diff == 0 else float("inf"))
        if norm_rel >= worst_norm:
            worst_norm, worst = norm_rel, runner.torch_name[n]
        worst_rel = max(worst_rel, rel)
        worst_abs = max(worst_abs, diff)
    return worst_norm, worst_rel, worst_abs, worst
