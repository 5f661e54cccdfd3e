"""The issue-14 families and a mixed-family plan in the Keras target, in float64 against
lrspec.reference (1e-10 of displacement), on the default (TensorFlow) backend, eagerly; the
float32 run of the same specs stays at the float32 floor (muon with torch's bfloat16
Newton-Schulz is checked against the reference's bound instead)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tf_target"))
from _lrspec_tf_matrix import check_against_reference, gradient_sequence, initial_values  # noqa: E402

import lrspec  # noqa: E402
from lrspec.api import as_spec  # noqa: E402

pytestmark = pytest.mark.slow  # 3-9 s each (eager Keras on the shared CI box)

N = 30
FAMILIES: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {
    "nadam": ({"type": "nadam", "lr": 0.01}, {"plain": {}, "wd": {"weight_decay": 0.05},
                                             "dwd": {"weight_decay": 0.05, "decoupled_weight_decay": True}}),
    "radam": ({"type": "radam", "lr": 0.01}, {"plain": {}, "dwd": {"weight_decay": 0.1, "decoupled_weight_decay": True}}),
    "adamax": ({"type": "adamax", "lr": 0.01}, {"plain": {}, "wd": {"weight_decay": 0.05}}),
    "adadelta": ({"type": "adadelta", "lr": 1.0}, {"plain": {}, "wd": {"weight_decay": 0.05, "rho": 0.8}}),
    "adafactor": ({"type": "adafactor", "lr": 0.01}, {"plain": {}, "wd": {"weight_decay": 0.05, "beta2_decay": -0.5},
                                                     "eps1": {"eps": [1e-30, 1e-3], "d": 2.0}}),
    "muon": ({"type": "muon", "lr": 0.02}, {"plain": {}, "plain_nesterov_off": {"nesterov": False},
                                            "rms": {"adjust_lr_fn": "match_rms_adamw"}}),
}
SCHEDULES = {"constant": {"type": "constant"}, "cos": {"type": "cosine", "decay_steps": 25, "min_mult": 0.1}}


def _target() -> Any:
    from lrspec.targets import BUILTIN_TARGETS, get_target

    if "keras" in BUILTIN_TARGETS:
        return get_target("keras")
    from lrspec_keras.target import KerasTarget

    return KerasTarget()


def _spec(family: str) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    opt, variants = FAMILIES[family]
    groups, shapes = [], {}
    for variant, over in variants.items():
        for s_name, sched in SCHEDULES.items():
            for f_name, freeze in (("none", None), ("until", {"until_step": 10}), ("frozen", True)):
                n = f"{variant}__{s_name}__{f_name}"
                shapes[n] = (4, 3) if family == "muon" or len(n) % 2 else ((2, 3, 2) if family == "adafactor" else (5,))
                g: dict[str, Any] = {"name": f"g_{n}", "params": [n], "schedule": sched, **over}
                if freeze is not None:
                    g["freeze"] = freeze
                groups.append(g)
    return {"version": 1, "optimizer": opt, "groups": groups, "unmatched": "error"}, shapes


def _run(spec: dict[str, Any], shapes: dict[str, tuple[int, ...]], dtype: str, **options: Any) -> tuple[Any, Any, Any, Any]:
    target = _target()
    init = {n: v.astype(dtype) for n, v in initial_values(shapes).items()}
    grads = [{n: g.astype(dtype) for n, g in gs.items()} for gs in gradient_sequence(shapes, {n: 1.0 for n in shapes}, n=N)]
    variables = [keras.Variable(v, name=n, dtype=dtype) for n, v in init.items()]
    c = target.compile(lrspec.resolve(as_spec(spec), target.parameters(variables)), variables, **options)
    names = [v.path for v in c.trainable_variables]
    for t in range(N):
        c.optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(grads[t][n]) for n in names], c.trainable_variables))
    final = {v.path: keras.ops.convert_to_numpy(v) for v in variables}
    return c, init, grads, final


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_float64_matches_reference(family: str) -> None:
    spec, shapes = _spec(family)
    c, init, grads, final = _run(spec, shapes, "float64", newton_schulz_dtype="float64")
    assert all(v.dtype == np.float64 for v in final.values())
    check_against_reference(c.plan, init, grads, final, tol=1e-10)


@pytest.mark.parametrize("family", ["nadam", "radam", "adamax", "adadelta", "adafactor"])
def test_family_float32_at_the_floor(family: str) -> None:
    spec, shapes = _spec(family)
    c, init, grads, final = _run(spec, shapes, "float32")
    check_against_reference(c.plan, init, grads, final, tol=1e-4)


def test_mixed_family_plan_dispatches_per_variable() -> None:
    """muon for 2-D variables, adamw for the rest, no decay for ndim <= 1: one optimizer."""
    spec = {"version": 1, "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
            "groups": [{"name": "matrices", "params": ["*"], "ndim": 2, "optimizer": {"type": "muon"}, "lr": 0.02},
                       {"name": "no_decay", "params": ["*"], "ndim": [0, 1], "weight_decay": 0.0}]}
    shapes = {"w1": (4, 3), "b1": (3,), "w2": (3, 2), "b2": (2,)}
    c, init, grads, final = _run(spec, shapes, "float64", newton_schulz_dtype="float64")
    assert set(c.plan.families) == {"muon", "adamw"}
    check_against_reference(c.plan, init, grads, final, tol=1e-10)


def test_muon_stock_bfloat16_newton_schulz_within_the_reference_bound() -> None:
    """K5: with torch's bfloat16 iteration, one orthogonalised direction of a well-conditioned
    input (condition number <= BF16_MAX_CONDITION) is within BF16_UPDATE_RTOL of the float64 one."""
    from lrspec_keras.rules_extra import newton_schulz as keras_ns

    from lrspec.reference.muon import BF16_MAX_CONDITION, BF16_UPDATE_RTOL, newton_schulz

    rng = np.random.default_rng(5)
    for rows, cols in ((8, 5), (5, 8), (16, 16)):
        u, _ = np.linalg.qr(rng.normal(size=(rows, rows)))
        v, _ = np.linalg.qr(rng.normal(size=(cols, cols)))
        k = min(rows, cols)
        s = np.exp(rng.uniform(np.log(1.0 / BF16_MAX_CONDITION), 0.0, size=k))
        g = (u[:, :k] * s) @ v[:, :k].T
        ref = newton_schulz(g)
        got = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(keras_ns(keras.ops.convert_to_tensor(g.astype(np.float32))), "float32")), np.float64)
        exact = np.asarray(keras.ops.convert_to_numpy(keras_ns(keras.ops.convert_to_tensor(g), dtype="float64")))
        assert np.linalg.norm(got - ref) <= BF16_UPDATE_RTOL * np.linalg.norm(ref)
        np.testing.assert_allclose(exact, ref, rtol=0, atol=1e-12)
