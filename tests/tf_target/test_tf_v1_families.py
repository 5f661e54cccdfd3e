"""tf-v1 with the families of issue 14 (nadam, radam, adamax, adadelta, adafactor, muon) against
lrspec.reference in float64: float64 variables, weight decay on, an lr schedule, 20 updates,
<= 1e-12 relative to the displacement (eager apply_gradients; one case in a tf.Graph session).
Muon runs Newton-Schulz in float64 here (newton_schulz_dtype) except in the bfloat16 test,
which checks the definition of "equal" of lrspec.reference.muon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from lrspec_tf import rules
from lrspec_tf.v1 import CompiledV1

import lrspec
from lrspec import reference as R
from lrspec.reference.muon import adjust_lr

STEPS = 20
SHAPES = {"enc.weight": (3, 4), "enc.bias": (4,), "head.scale": (), "conv.kernel": (2, 3, 4)}
SMALL = {"enc.weight": (3, 4), "enc.bias": (4,)}
MATRICES = {"a.weight": (4, 6), "b.weight": (7, 3)}
SCHEDULE = {"type": "exponential", "decay_rate": 0.5, "decay_steps": 20}


def plan_of(optimizer: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], groups: Any = ()) -> lrspec.Plan:
    spec = lrspec.Spec.model_validate(
        {"version": 1, "optimizer": dict(optimizer), "schedule": SCHEDULE, "groups": list(groups)}
    )
    return lrspec.resolve(spec, dict(shapes))


def problem(
    shapes: Mapping[str, tuple[int, ...]], seed: int, dtype: Any = np.float64
) -> tuple[dict[str, Any], list[Any]]:
    rng = np.random.default_rng(seed)
    init = {n: rng.normal(size=s).astype(dtype) for n, s in shapes.items()}
    grads = [{n: rng.normal(size=s).astype(dtype) for n, s in shapes.items()} for _ in range(STEPS)]
    return init, grads


def run_eager(
    plan: lrspec.Plan, init: Mapping[str, np.ndarray], grads: list[Any], **options: Any
) -> list[dict[str, np.ndarray]]:
    names = list(init)
    variables = [tf.Variable(init[n]) for n in names]
    compiled = CompiledV1(plan, variables, names=names, **options)
    out = []
    for g in grads:
        compiled.apply_gradients([(tf.constant(g[n]), v) for n, v in zip(names, variables)])
        out.append({n: v.numpy() for n, v in zip(names, variables)})
    return out


def assert_matches_reference(
    plan: lrspec.Plan, init: Any, grads: Any, got: list[dict[str, np.ndarray]], rel: float = 1e-12
) -> None:
    ref = R.simulate(plan, init, grads)
    for t, values in enumerate(got, start=1):
        for n, v in values.items():
            moved = float(np.max(np.abs(ref[t][n] - np.asarray(init[n], np.float64))))
            assert moved > 0, n
            err = float(np.max(np.abs(v - ref[t][n]))) / moved
            assert err <= rel, f"update {t}, {n}: {err:.3e}"


CASES: list[tuple[str, dict[str, Any]]] = [
    ("nadam", {"type": "nadam", "lr": 0.02, "weight_decay": 0.05}),
    (
        "nadam_decoupled",
        {"type": "nadam", "lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 0.01},
    ),
    ("radam", {"type": "radam", "lr": 0.02, "weight_decay": 0.05}),
    ("radam_decoupled", {"type": "radam", "lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adamax", {"type": "adamax", "lr": 0.02, "weight_decay": 0.05, "betas": [0.3, 0.99]}),
    ("adadelta", {"type": "adadelta", "lr": 0.5, "weight_decay": 0.05}),
    ("adafactor", {"type": "adafactor", "lr": 0.05, "weight_decay": 0.05}),
    ("adafactor_eps1_set", {"type": "adafactor", "lr": 0.05, "weight_decay": 0.05, "eps": [1e-3, 1e-2], "d": 1.5}),
]


@pytest.mark.parametrize(("case", "optimizer"), CASES, ids=[c for c, _ in CASES])
def test_family_matches_the_reference_float64(case: str, optimizer: dict[str, Any]) -> None:
    shapes = SHAPES if optimizer["type"] == "adafactor" else SMALL  # adafactor: 0-D to 3-D
    plan = plan_of(optimizer, shapes)
    init, grads = problem(shapes, seed=len(case))
    assert_matches_reference(plan, init, grads, run_eager(plan, init, grads))


@pytest.mark.parametrize(("adjust_lr_fn", "nesterov"), [(None, True), ("original", False), ("match_rms_adamw", True)])
def test_muon_and_adamw_per_variable_dispatch_float64(adjust_lr_fn: str | None, nesterov: bool) -> None:
    """Muon for the 2-D variables, adamw for the rest (one plan, per-variable family)."""
    muon = {"type": "muon", "adjust_lr_fn": adjust_lr_fn, "nesterov": nesterov}
    shapes = {**SMALL, "head.weight": (5, 2)}
    plan = plan_of(
        {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
        shapes,
        [{"name": "matrices", "params": ["*"], "ndim": 2, "lr": 0.02, "optimizer": muon}],
    )
    assert {g.name: g.family for g in plan.groups} == {"matrices": "muon", "default": "adamw"}
    init, grads = problem(shapes, seed=5)
    got = run_eager(plan, init, grads, newton_schulz_dtype="float64")
    assert_matches_reference(plan, init, grads, got)


def aligned_gradients(rng: np.random.Generator, shape: tuple[int, int], steps: int) -> list[np.ndarray]:
    """U diag(s_t) V^T, fixed U, V, s_t in [0.5, 1.5]: every Newton-Schulz input has condition <= 3."""
    m = min(shape)
    u, _ = np.linalg.qr(rng.normal(size=(shape[0], m)))
    v, _ = np.linalg.qr(rng.normal(size=(shape[1], m)))
    return [(u * rng.uniform(0.5, 1.5, size=m)) @ v.T for _ in range(steps)]


def test_muon_stock_bfloat16_within_the_definition_of_equal() -> None:
    """Default newton_schulz_dtype (bfloat16, as torch): after every update
    ||p - p_ref||_F <= BF16_UPDATE_RTOL * sum_t adjust_lr(lr_t) ||O_ref,t||_F (same gradients,
    so the same momentum buffers, inputs of condition <= BF16_MAX_CONDITION), and the
    difference is a real bfloat16 one."""
    plan = plan_of({"type": "muon", "lr": 0.05, "weight_decay": 0.1}, MATRICES)
    rng = np.random.default_rng(2)
    init = {n: rng.normal(size=s) for n, s in MATRICES.items()}
    per_param = {n: aligned_gradients(rng, s, STEPS) for n, s in MATRICES.items()}
    grads = [{n: per_param[n][t] for n in MATRICES} for t in range(STEPS)]
    got = run_eager(plan, init, grads)
    ref = R.simulate(plan, init, grads)
    worst = 0.0
    for n, shape in MATRICES.items():
        buf, budget = np.zeros(shape), 0.0
        for t, g in enumerate(grads):
            buf = buf + (g[n] - buf) * 0.05
            blend = g[n] + (buf - g[n]) * 0.95
            assert np.linalg.cond(blend) <= R.BF16_MAX_CONDITION
            budget += adjust_lr(plan.groups[0].lr_at(t), None, shape) * float(np.linalg.norm(R.newton_schulz(blend)))
            dev = float(np.linalg.norm(got[t][n] - ref[t + 1][n]))
            assert dev <= R.BF16_UPDATE_RTOL * budget, (t, n, dev, budget)
            worst = max(worst, dev / budget)
    assert worst > 1e-4


def test_float32_variables_run_in_float32() -> None:
    plan = plan_of({"type": "nadam", "lr": 0.02, "weight_decay": 0.05}, SMALL)
    init, grads = problem(SMALL, seed=9, dtype=np.float32)
    got = run_eager(plan, init, grads)
    assert all(v.dtype == np.float32 for v in got[-1].values())
    ref = R.simulate(plan, init, grads)[-1]
    for n, v in got[-1].items():
        moved = float(np.max(np.abs(ref[n] - init[n])))
        np.testing.assert_allclose(v, ref[n], rtol=2e-6, atol=1e-5 * moved, err_msg=n)  # float32 roundoff


def test_graph_mode_session_and_state_variables() -> None:
    """A tf.Graph + Session: adafactor's factored slots have torch's shapes, nadam's
    mu_product is a float64 scalar; the trajectory equals the reference."""
    plan = plan_of(
        {"type": "adafactor", "lr": 0.05, "weight_decay": 0.05},
        SHAPES,
        [{"name": "vectors", "params": ["*"], "ndim": [0, 1], "optimizer": {"type": "nadam"}}],
    )
    init, grads = problem(SHAPES, seed=3)
    names = list(SHAPES)
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(n.replace(".", "_"), initializer=tf.constant(init[n])) for n in names]
        feeds = {n: tf.compat.v1.placeholder(tf.float64, SHAPES[n]) for n in names}
        compiled = CompiledV1(plan, variables, names=names)
        train = compiled.apply_gradients([(feeds[n], v) for n, v in zip(names, variables)])
        shapes = {
            v.name.split("/")[-1].split(":")[0]: (v.shape.as_list(), v.dtype.base_dtype.name)
            for v in compiled.variables
        }
        got = []
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for g in grads:
                sess.run(train, {feeds[n]: g[n] for n in names})
                got.append(dict(zip(names, sess.run(variables))))
    assert shapes["conv_kernel_row_var"] == ([2, 3, 1], "float64")
    assert shapes["conv_kernel_col_var"] == ([2, 1, 4], "float64")
    assert shapes["enc_weight_col_var"] == ([1, 4], "float64")
    assert shapes["enc_bias_mu_product"] == ([], "float64")
    assert "enc_bias_exp_avg_sq" in shapes and "head_scale_mu_product" in shapes
    assert_matches_reference(plan, init, grads, got)


def test_slot_specs_and_shapes_of_the_new_families() -> None:
    assert [s.name for s in rules.slot_specs("adafactor", {}, ndim=3)] == ["row_var", "col_var"]
    assert [s.name for s in rules.slot_specs("adafactor", {}, ndim=1)] == ["variance"]
    with pytest.raises(ValueError, match="ndim"):
        rules.slot_specs("adafactor", {})
    row, col = rules.slot_specs("adafactor", {}, ndim=2)
    assert rules.slot_shape(row, (5, 6)) == [5, 1] and rules.slot_shape(col, (5, 6)) == [1, 6]
    assert rules.needs_step("nadam", {}) and not rules.needs_step("muon", {})
    with pytest.raises(lrspec.TargetError, match="newton_schulz_dtype"):
        CompiledV1(plan_of({"type": "muon"}, MATRICES), [], newton_schulz_dtype="float16")


def test_late_start_counts_the_variables_own_steps() -> None:
    """A nadam group frozen until update 4 next to radam: its step count (and mu_product) start
    at its first update, as torch's per-parameter state; unchanged (bitwise) while frozen."""
    plan = plan_of(
        {"type": "radam", "lr": 0.02, "weight_decay": 0.05},
        SMALL,
        [{"name": "late", "params": ["enc.bias"], "freeze": {"until_step": 4}, "optimizer": {"type": "nadam"}}],
    )
    init, grads = problem(SMALL, seed=4)
    got = run_eager(plan, init, grads)
    assert np.array_equal(got[3]["enc.bias"], init["enc.bias"])
    ref = R.simulate(plan, init, grads)
    for t, values in enumerate(got, start=1):
        for n, v in values.items():
            moved = float(np.max(np.abs(ref[t][n] - init[n])))
            assert float(np.max(np.abs(v - ref[t][n]))) <= 1e-12 * max(moved, 1e-300), (t, n)
