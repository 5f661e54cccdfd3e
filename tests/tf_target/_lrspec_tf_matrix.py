"""Shared builders for the TF target's reference-matrix tests (no test functions here).

For one optimizer family, :func:`matrix_spec` builds one spec whose groups cover every variant
of the family x every schedule x every freeze mode, one variable per combination (plus a
tiny-gradient variable per variant of the adaptive families), so a whole family runs in a single optimizer / trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_UPDATES = 100
UNTIL = 30

SCHEDULES: dict[str, dict[str, Any]] = {
    "constant": {"type": "constant"},
    "exponential": {"type": "exponential", "decay_rate": 0.5, "decay_steps": 40},
    "multistep": {"type": "multistep", "milestones": [20, 60], "gamma": 0.3},
    "cosine": {"type": "cosine", "decay_steps": 80, "min_mult": 0.05},
    "warmup": {"type": "warmup", "steps": 10, "start_mult": 0.1,
               "then": {"type": "cosine", "decay_steps": 90}},
}
FREEZES: dict[str, Any] = {"none": None, "permanent": True, "until": {"until_step": UNTIL}}

# family -> (optimizer settings, {variant name: group overrides})
FAMILIES: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {
    "sgd": ({"type": "sgd", "lr": 0.05}, {
        "plain": {},
        "momentum": {"momentum": 0.9},
        "nesterov": {"momentum": 0.9, "nesterov": True},
        "dampening": {"momentum": 0.8, "dampening": 0.5},
        "wd_momentum": {"momentum": 0.9, "weight_decay": 0.05},
    }),
    "adam": ({"type": "adam", "lr": 0.01}, {
        "plain": {},
        "wd": {"weight_decay": 0.05},
        "amsgrad": {"amsgrad": True, "betas": [0.8, 0.99]},
        "eps": {"eps": 1e-4},
    }),
    "adamw": ({"type": "adamw", "lr": 0.01}, {
        "plain": {},
        "wd": {"weight_decay": 0.2},
        "amsgrad": {"amsgrad": True},
    }),
    "rmsprop": ({"type": "rmsprop", "lr": 0.003}, {
        "plain": {},
        "centered": {"centered": True},
        "momentum": {"momentum": 0.8},
        "centered_momentum": {"centered": True, "momentum": 0.8},
        "wd": {"weight_decay": 0.05, "alpha": 0.9},
    }),
    "adagrad": ({"type": "adagrad", "lr": 0.05}, {
        "plain": {},
        "lr_decay": {"lr_decay": 0.05},
        "init_wd": {"initial_accumulator_value": 0.1, "weight_decay": 0.05, "eps": 1e-6},
    }),
}


def var_name(variant: str, schedule: str, freeze: str) -> str:
    return f"{variant}__{schedule}__{freeze}"


def matrix_spec(family: str) -> tuple[dict[str, Any], dict[str, tuple[int, ...]], dict[str, float]]:
    """(spec, name -> shape, name -> gradient scale)."""
    opt, variants = FAMILIES[family]
    groups: list[dict[str, Any]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    scales: dict[str, float] = {}
    for k, (variant, over) in enumerate(variants.items()):
        for s_name, sched in SCHEDULES.items():
            for f_name, freeze in FREEZES.items():
                n = var_name(variant, s_name, f_name)
                shapes[n] = (3, 2) if (k + len(s_name)) % 2 else (4,)
                scales[n] = 1.0
                g: dict[str, Any] = {"name": f"g_{n}", "params": [n], "schedule": sched,
                                     "lr_mult": 0.5 if s_name == "cosine" else 1.0, **over}
                if freeze is not None:
                    g["freeze"] = freeze
                groups.append(g)
        if family != "sgd":  # under sgd a 1e-5 gradient barely moves the variable: nothing to measure
            tiny = f"{variant}__tiny"
            shapes[tiny] = (5,)
            scales[tiny] = 1e-5
            groups.append({"name": f"g_{tiny}", "params": [tiny], **over})
    spec = {"version": 1, "optimizer": opt, "groups": groups, "unmatched": "error"}
    return spec, shapes, scales


def initial_values(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(-0.5, 0.5, size=s).astype(np.float32) for n, s in shapes.items()}


def gradient_sequence(shapes: dict[str, tuple[int, ...]], scales: dict[str, float], n: int = N_UPDATES,
                      seed: int = 1) -> list[dict[str, np.ndarray]]:
    """n gradient maps; each variable's gradient is a fixed direction plus noise (so it keeps moving)."""
    rng = np.random.default_rng(seed)
    bias = {k: rng.normal(size=s) for k, s in shapes.items()}
    return [
        {k: ((bias[k] + 0.5 * rng.normal(size=s)) * scales[k]).astype(np.float32) for k, s in shapes.items()}
        for _ in range(n)
    ]


def check_against_reference(plan: Any, init: dict[str, np.ndarray], grads: list[dict[str, np.ndarray]],
                            final: dict[str, np.ndarray], tol: float = 1e-4) -> dict[str, float]:
    """Assert float32 error <= tol x displacement for trained variables and bitwise-unchanged
    permanently frozen ones; return name -> relative error."""
    import lrspec

    ref = lrspec.reference.simulate(plan, init, grads)[-1]
    frozen = set(plan.frozen_params)
    errors: dict[str, float] = {}
    bad: list[str] = []
    for n in plan.names:
        if n in frozen:
            assert np.array_equal(final[n], init[n]), f"{n} is permanently frozen but changed"
            continue
        disp = float(np.max(np.abs(ref[n] - init[n])))
        assert disp > 1e-6, f"{n} did not move in the reference (test setup problem)"
        err = float(np.max(np.abs(final[n].astype(np.float64) - ref[n]))) / disp
        errors[n] = err
        if not err <= tol:
            bad.append(f"{n}: {err:.2e}")
    assert not bad, "error / displacement above tolerance: " + ", ".join(bad)
    return errors
