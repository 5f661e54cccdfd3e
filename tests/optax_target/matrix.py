"""Every family x option against lrspec.reference, run in a subprocess of its own.

``python -m tests.optax_target.matrix x64`` (or ``x32``) prints one JSON object: case id ->
``{"rel": max |p - p_ref| / max |p_ref - p_0| over leaves, "frozen_exact": bool, "mode": ...}``
after ``STEPS`` jitted updates with seeded random gradients. Kept out of the pytest process so
``jax_enable_x64`` never leaks into other tests.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

STEPS = 100

SHAPES = {"enc.w": (8, 6), "enc.b": (6,), "head.w": (6, 3), "head.b": (3,), "emb": (5, 4)}

CASES: dict[str, dict[str, Any]] = {
    "sgd": {"type": "sgd", "lr": 0.05},
    "sgd-momentum": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
    "sgd-dampening": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.5},
    "sgd-nesterov": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "adam": {"type": "adam", "lr": 1e-2},
    "adam-amsgrad": {"type": "adam", "lr": 1e-2, "amsgrad": True},
    "adam-betas-eps": {"type": "adam", "lr": 1e-2, "betas": [0.8, 0.99], "eps": 1e-6},
    "adamw": {"type": "adamw", "lr": 1e-2},
    "adamw-amsgrad": {"type": "adamw", "lr": 1e-2, "amsgrad": True},
    "rmsprop": {"type": "rmsprop", "lr": 1e-3},
    "rmsprop-momentum": {"type": "rmsprop", "lr": 1e-3, "momentum": 0.5},
    "rmsprop-centered": {"type": "rmsprop", "lr": 1e-3, "centered": True},
    "rmsprop-all": {"type": "rmsprop", "lr": 1e-3, "centered": True, "momentum": 0.5, "alpha": 0.9, "eps": 1e-6},
    "adagrad": {"type": "adagrad", "lr": 0.05},
    "adagrad-all": {"type": "adagrad", "lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-6},
}

NEW_CASES: dict[str, dict[str, Any]] = {
    "nadam": {"type": "nadam", "lr": 1e-2},
    "nadam-decoupled": {"type": "nadam", "lr": 1e-2, "decoupled_weight_decay": True, "momentum_decay": 0.01},
    "radam": {"type": "radam", "lr": 1e-2},
    "radam-decoupled": {"type": "radam", "lr": 1e-2, "decoupled_weight_decay": True, "betas": [0.8, 0.99]},
    "adamax": {"type": "adamax", "lr": 1e-2},
    "adamax-betas-eps": {"type": "adamax", "lr": 1e-2, "betas": [0.8, 0.99], "eps": 1e-6},
    "adadelta": {"type": "adadelta", "lr": 1.0},
    "adadelta-rho-eps": {"type": "adadelta", "lr": 0.5, "rho": 0.8, "eps": 1e-5},
    "adafactor": {"type": "adafactor", "lr": 1e-2},
    "adafactor-all": {"type": "adafactor", "lr": 1e-2, "eps": [1e-20, 1e-2], "d": 2.0, "beta2_decay": -0.5},
    "muon": {"type": "muon"},
    "muon-original-plain": {"type": "muon", "nesterov": False, "adjust_lr_fn": "original", "momentum": 0.9},
}
"""The issue-14 families (lrspec's rule only). ``muon`` cases are per-group families: adamw at
the top, muon for the 2-D leaves (``ndim: 2``), Newton-Schulz in the run's dtype."""

CASES.update(NEW_CASES)


def spec_for(optimizer: dict[str, Any], variant: str) -> dict[str, Any]:
    """``plain``: lr_mult/wd/schedule groups and a permanent freeze (optax-native where exact);
    ``freeze``: plus a group frozen until update 7 and a per-group hyperparameter override."""
    opt = dict(optimizer, weight_decay=0.01)
    muon: list[dict[str, Any]] = []
    if optimizer["type"] == "muon":
        opt = {"type": "adamw", "lr": 1e-2, "weight_decay": 0.01}
        muon = [{"name": "matrices", "params": ["*"], "ndim": 2, "optimizer": dict(optimizer), "lr": 0.02}]
    groups: list[dict[str, Any]] = [
        *muon,
        {
            "name": "head",
            "params": ["head.*"],
            "lr_mult": 3.0,
            "schedule": {"type": "warmup", "steps": 5, "then": {"type": "cosine", "decay_steps": 60, "min_mult": 0.1}},
        },
        {"name": "bias", "params": ["*.b"], "weight_decay": 0.0},
        {"name": "emb", "params": ["emb"], "freeze": True},
    ]
    if variant == "freeze":
        groups.append({"name": "late", "params": ["enc.b"], "freeze": {"until_step": 7}, "lr_mult": 0.5})
        override = {
            "sgd": {"momentum": 0.5},
            "adam": {"betas": [0.5, 0.9]},
            "adamw": {"betas": [0.5, 0.9]},
            "rmsprop": {"alpha": 0.8},
            "adagrad": {"eps": 1e-3},
            "nadam": {"betas": [0.5, 0.9]},
            "radam": {"betas": [0.5, 0.9]},
            "adamax": {"betas": [0.5, 0.9]},
            "adadelta": {"rho": 0.8},
            "adafactor": {"d": 1.5},
            "muon": {"momentum": 0.5},
        }[optimizer["type"]]
        groups.append({"name": "override", "params": ["head.w"], **override})
    return {
        "version": 1,
        "optimizer": opt,
        "schedule": {"type": "step", "step_size": 30, "gamma": 0.5},
        "groups": groups,
    }


def run_case(spec: dict[str, Any], mode: str, dtype: Any) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax

    import lrspec
    from lrspec.reference import simulate

    rng = np.random.default_rng(0)
    init = {n: (rng.standard_normal(s) * 0.05).astype(dtype) for n, s in SHAPES.items()}
    scales = {n: 10.0 ** rng.uniform(-3, 0, s) for n, s in SHAPES.items()}
    grads = [{n: (rng.standard_normal(s) * scales[n]).astype(dtype) for n, s in SHAPES.items()} for _ in range(STEPS)]
    params = {
        "enc": {"w": jnp.asarray(init["enc.w"]), "b": jnp.asarray(init["enc.b"])},
        "head": {"w": jnp.asarray(init["head.w"]), "b": jnp.asarray(init["head.b"])},
        "emb": jnp.asarray(init["emb"]),
    }
    families = {g.get("optimizer", {}).get("type") for g in spec["groups"]}
    options = {"newton_schulz_dtype": np.dtype(dtype).name} if "muon" in families else {}
    compiled = lrspec.compile(spec, params, target="optax", mode=mode, **options)
    tx = compiled.optimizer

    @jax.jit
    def step(p: Any, s: Any, g: Any) -> Any:
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    def tree(d: dict[str, np.ndarray]) -> Any:
        return {
            "enc": {"w": d["enc.w"], "b": d["enc.b"]},
            "head": {"w": d["head.w"], "b": d["head.b"]},
            "emb": d["emb"],
        }

    state = tx.init(params)
    p = params
    for g in grads:
        p, state = step(p, state, tree(g))
    got = {
        "enc.w": p["enc"]["w"],
        "enc.b": p["enc"]["b"],
        "head.w": p["head"]["w"],
        "head.b": p["head"]["b"],
        "emb": p["emb"],
    }
    ref = simulate(compiled.plan, init, grads, run_dtype=np.dtype(dtype).name)[-1]
    rel = 0.0
    for n in SHAPES:
        moved = float(np.max(np.abs(ref[n] - init[n].astype(np.float64))))
        if moved == 0:
            continue
        rel = max(rel, float(np.max(np.abs(np.asarray(got[n], np.float64) - ref[n]))) / moved)
    return {
        "rel": rel,
        "frozen_exact": bool(np.array_equal(np.asarray(got["emb"]), init["emb"])),
        "native": compiled.native,
        "families": list(compiled.plan.families),
        "dtype": str(np.asarray(got["enc.w"]).dtype),
    }


SCHEDULES: list[dict[str, Any]] = [
    {"type": "constant", "value": 0.5},
    {"type": "exponential", "decay_rate": 0.96, "decay_steps": 7},
    {"type": "exponential", "decay_rate": 0.5, "decay_steps": 3, "staircase": True},
    {"type": "exponential", "decay_rate": 0.9999999, "decay_steps": 1},
    {"type": "step", "step_size": 10, "gamma": 0.5},
    {"type": "multistep", "milestones": [3, 10, 1000], "gamma": 0.1},
    {"type": "piecewise", "boundaries": [5, 50], "values": [1.0, 0.5, 0.1]},
    {"type": "cosine", "decay_steps": 100, "min_mult": 0.1},
    {"type": "polynomial", "decay_steps": 100, "power": 2.0, "end_mult": 0.01},
    {"type": "linear", "start_mult": 0.1, "end_mult": 1.0, "steps": 20},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 10},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 10, "staircase": True},
    {"type": "warmup", "steps": 10, "start_mult": 0.0, "then": {"type": "cosine", "decay_steps": 50}},
    {
        "type": "sequence",
        "schedules": [
            {"type": "constant", "value": 1.0},
            {"type": "linear", "start_mult": 1.0, "end_mult": 0.0, "steps": 40},
            {"type": "step", "step_size": 5, "gamma": 0.9},
        ],
        "boundaries": [10, 60],
    },
]
TIMES = [0, 1, 2, 3, 5, 9, 10, 11, 19, 20, 49, 50, 60, 61, 99, 100, 101, 999, 1000, 12345, 10**6, 10**9]


def schedule_errors() -> dict[str, float]:
    """Max relative error of the jnp schedules against lrspec.schedules over TIMES, per schedule."""
    import jax
    import jax.numpy as jnp
    from lrspec_optax._schedules import schedule_from_dict

    from lrspec import schedules
    from lrspec.spec.models import Spec

    out: dict[str, float] = {}
    for node in SCHEDULES:
        model = Spec.model_validate({"version": 1, "optimizer": {"type": "sgd", "lr": 0.1}, "schedule": node}).schedule
        ref = schedules.from_spec(model)
        fn = jax.jit(schedule_from_dict(model.model_dump(mode="json")))
        err = 0.0
        for t in TIMES:
            want, got = ref(t), float(fn(jnp.asarray(t, jnp.int32)))
            err = max(err, abs(got - want) / max(abs(want), 1e-300) if want != 0 else abs(got))
        out[json.dumps(node, sort_keys=True)] = err
    return out


def main(which: str) -> dict[str, Any]:
    import jax

    jax.config.update("jax_enable_x64", which == "x64")
    dtype = np.float64 if which == "x64" else np.float32
    out: dict[str, Any] = {"__schedules__": schedule_errors()}
    for name, opt in CASES.items():
        out[f"{name}/plain/auto"] = run_case(spec_for(opt, "plain"), "auto", dtype)
        out[f"{name}/freeze/auto"] = run_case(spec_for(opt, "freeze"), "auto", dtype)
        if which == "x64" and out[f"{name}/plain/auto"]["native"]:
            out[f"{name}/plain/lrspec"] = run_case(spec_for(opt, "plain"), "lrspec", dtype)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
