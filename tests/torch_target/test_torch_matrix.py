"""The compiled torch optimizer + scheduler against lrspec.reference, update by update.

Every family variant x every schedule x every freeze kind, 100 updates of identical
gradients (some missing: torch's ``p.grad is None``), every parameter compared after every
update: float64 within 1e-12 relative, float32 within 1e-4 of the distance it moved.
Initial values and gradients are float32-representable, so one float64 reference run serves
both dtypes.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from _lrspec_torch_helpers import (  # noqa: E402
    assert_close_float32,
    assert_close_float64,
    gradient_sequence,
    initial_values,
    make_params,
    run_updates,
)

import lrspec  # noqa: E402
from lrspec import reference  # noqa: E402

STEPS = 100
UNTIL = 37

FAMILIES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (optimizer section, per-group override on the "head" group)
    "sgd": ({"type": "sgd", "lr": 0.05}, {}),
    "sgd_momentum": ({"type": "sgd", "lr": 0.02, "momentum": 0.9}, {"momentum": 0.7}),
    "sgd_nesterov": ({"type": "sgd", "lr": 0.02, "momentum": 0.9, "nesterov": True}, {}),
    "sgd_dampening": ({"type": "sgd", "lr": 0.02, "momentum": 0.9, "dampening": 0.3}, {"dampening": 0.1}),
    "sgd_weight_decay": ({"type": "sgd", "lr": 0.02, "momentum": 0.5, "weight_decay": 0.05}, {}),
    "adam": ({"type": "adam", "lr": 0.01, "weight_decay": 0.01}, {"betas": [0.8, 0.99]}),
    "adam_amsgrad": ({"type": "adam", "lr": 0.01, "amsgrad": True}, {"eps": 1e-6}),
    "adamw": ({"type": "adamw", "lr": 0.01, "weight_decay": 0.1}, {"betas": [0.85, 0.995]}),
    "rmsprop": ({"type": "rmsprop", "lr": 0.003}, {"alpha": 0.9}),
    "rmsprop_centered": ({"type": "rmsprop", "lr": 0.003, "centered": True, "weight_decay": 0.01}, {}),
    "rmsprop_momentum": ({"type": "rmsprop", "lr": 0.002, "momentum": 0.8}, {"eps": 1e-6}),
    "adagrad": ({"type": "adagrad", "lr": 0.1, "weight_decay": 0.01}, {"initial_accumulator_value": 0.1}),
    "adagrad_lr_decay": ({"type": "adagrad", "lr": 0.1, "lr_decay": 0.01}, {"eps": 1e-6}),
}

SCHEDULES: dict[str, dict[str, Any]] = {
    "constant": {"type": "constant"},
    "exponential_staircase": {"type": "exponential", "decay_rate": 0.7, "decay_steps": 15, "staircase": True},
    "exponential_smooth": {"type": "exponential", "decay_rate": 0.7, "decay_steps": 15},
    "multistep": {"type": "multistep", "milestones": [30, 60, 80], "gamma": 0.5},
    "cosine": {"type": "cosine", "decay_steps": 100, "min_mult": 0.05},
    "warmup_cosine": {"type": "warmup", "steps": 10, "start_mult": 0.1, "then": {"type": "cosine", "decay_steps": 90}},
}

FREEZES: dict[str, Any] = {"none": None, "permanent": True, "until_step": {"until_step": UNTIL}}


def make_spec(family: str, schedule: str, freeze: str) -> dict[str, Any]:
    optimizer, head_extra = FAMILIES[family]
    enc: dict[str, Any] = {"name": "enc", "params": ["enc.*"]}
    if FREEZES[freeze] is not None:
        enc["freeze"] = FREEZES[freeze]
    return {
        "version": 1,
        "optimizer": optimizer,
        "schedule": SCHEDULES[schedule],
        "groups": [
            enc,
            {"name": "head", "params": ["head.*"], "lr_mult": 3.0, **head_extra},
            {"name": "bias", "params": ["*.bias"], "decay_mult": 0.0},
        ],
    }


_REFERENCE_CACHE: dict[tuple[str, str, str], tuple[Any, list[dict[str, np.ndarray]]]] = {}
INITIAL = initial_values()
GRADIENTS = gradient_sequence(STEPS)


def reference_run(family: str, schedule: str, freeze: str) -> tuple[Any, list[dict[str, np.ndarray]]]:
    key = (family, schedule, freeze)
    if key not in _REFERENCE_CACHE:
        spec = lrspec.Spec.model_validate(make_spec(family, schedule, freeze))
        plan = lrspec.resolve(spec, {n: v.shape for n, v in INITIAL.items()})
        _REFERENCE_CACHE[key] = (spec, reference.simulate(plan, INITIAL, GRADIENTS))
    return _REFERENCE_CACHE[key]


def check(family: str, schedule: str, freeze: str, **options: Any) -> None:
    spec, ref = reference_run(family, schedule, freeze)
    for dtype in (torch.float64, torch.float32):
        params = make_params(INITIAL, dtype)
        compiled = lrspec.compile(spec, params, target="torch", **options)
        got = run_updates(compiled, params, GRADIENTS)
        if dtype == torch.float64:
            assert_close_float64(got, ref)
        else:
            assert_close_float32(got, ref)
        if freeze != "none":
            # frozen parameters are bitwise unchanged while frozen (always, for a permanent freeze)
            last = STEPS if freeze == "permanent" else UNTIL
            for n in ("enc.weight", "enc.bias"):
                assert np.array_equal(got[last][n], INITIAL[n]), n
            if freeze == "until_step":
                assert not np.array_equal(got[UNTIL + 1]["enc.weight"], INITIAL["enc.weight"])


@pytest.mark.parametrize("freeze", list(FREEZES))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_matches_reference(family: str, schedule: str, freeze: str) -> None:
    """Default implementation (lrspec's choice: fused where torch has it, else foreach)."""
    check(family, schedule, freeze)


@pytest.mark.parametrize(
    "impl",
    [{"foreach": False}, {"foreach": True}, {"fused": True}],
    ids=["for-loop", "foreach", "fused"],
)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_implementation_matches_reference(family: str, impl: dict[str, bool]) -> None:
    if impl.get("fused") and family.startswith("rmsprop"):
        pytest.skip("torch has no fused RMSprop")
    check(family, "warmup_cosine", "until_step", **impl)


def test_reference_changes_when_the_freeze_changes() -> None:
    """Sanity of the harness: the three freeze kinds give different trajectories."""
    finals = [reference_run("adam", "constant", f)[1][-1]["enc.weight"] for f in FREEZES]
    assert not np.allclose(finals[0], finals[2])
    assert np.array_equal(finals[1], INITIAL["enc.weight"])
