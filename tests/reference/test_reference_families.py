"""The six families added in issue 14 (nadam, radam, adamax, adadelta, adafactor; muon is in
test_reference_muon.py) against the stock torch.optim class in float64, 25 updates, weight
decay on, the lr changing every update: <= 1e-12 relative, and the state under torch's names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _lrspec_reference_helpers import (
    assert_states_match,
    assert_trajectories,
    decaying_lr,
    default_dtype,
    random_problem,
    reference_run,
)

from lrspec import reference as R
from lrspec.spec.families import FAMILY_DEFAULTS, FAMILY_HYPERPARAMETERS

torch = pytest.importorskip("torch")

STEPS = 25
SHAPES = {"enc.weight": (3, 4), "enc.bias": (4,), "head.scale": ()}
ADAFACTOR_SHAPES = {"w1": (5,), "w2": (4, 6), "w3": (2, 3, 4), "w0": ()}

# (case, family, torch kwargs without lr; every case has weight decay)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("nadam", "nadam", {"weight_decay": 0.05, "betas": (0.9, 0.99)}),
    ("nadam_decoupled", "nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 0.01}),
    ("radam", "radam", {"weight_decay": 0.05}),
    ("radam_decoupled", "radam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-6}),
    ("adamax", "adamax", {"weight_decay": 0.05, "betas": (0.8, 0.99)}),
    ("adadelta", "adadelta", {"weight_decay": 0.05}),
    ("adadelta_rho", "adadelta", {"weight_decay": 0.05, "rho": 0.5, "eps": 1e-4}),
    ("adafactor_eps1_none", "adafactor", {"weight_decay": 0.05}),
    ("adafactor_eps1_set", "adafactor", {"weight_decay": 0.05, "eps": (1e-3, 1e-2), "d": 1.5, "beta2_decay": -0.5}),
]
TORCH_CLASSES = {
    "nadam": "NAdam",
    "radam": "RAdam",
    "adamax": "Adamax",
    "adadelta": "Adadelta",
    "adafactor": "Adafactor",
}
LR = {"nadam": 0.02, "radam": 0.02, "adamax": 0.02, "adadelta": 0.5, "adafactor": 0.05}


def hyperparameters(family: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The plan's hyperparameters: every key of the family, torch's defaults filled (K1)."""
    return {k: kwargs.get(k, FAMILY_DEFAULTS[family][k]) for k in FAMILY_HYPERPARAMETERS[family]}


@pytest.mark.parametrize(("case", "family", "kwargs"), CASES, ids=[c for c, _, _ in CASES])
def test_family_matches_torch_float64(case: str, family: str, kwargs: dict[str, Any]) -> None:
    shapes = ADAFACTOR_SHAPES if family == "adafactor" else SHAPES
    init, grads = random_problem(shapes, STEPS, seed=len(case))
    lr_fn = decaying_lr(LR[family])
    opt_cls = getattr(torch.optim, TORCH_CLASSES[family])
    # torch keeps NAdam's mu_product in the default dtype: float64 here, as the reference
    with default_dtype(torch, torch.float64):
        expected, opt, tensors = torch_run(opt_cls, kwargs, lr_fn, init, grads)
    ref, states = reference_run(family, hyperparameters(family, kwargs), kwargs["weight_decay"], lr_fn, init, grads)
    assert_trajectories(ref, expected)
    assert_states_match(states, opt, tensors, STEPS)


def torch_run(opt_cls: Any, kwargs: dict[str, Any], lr_fn: Any, init: Any, grads: Any) -> Any:
    from _lrspec_reference_helpers import torch_run as run

    return run(torch, opt_cls, kwargs, lr_fn, init, grads)


def test_radam_run_crosses_the_rectification_switch() -> None:
    """rho_t = rho_inf - 2 s beta2^s / (1 - beta2^s) passes 5 within the 25 updates of the
    radam cases (default betas): updates 1..5 are SGD-with-momentum steps, 6.. rectified."""
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * s * beta2**s / (1 - beta2**s) for s in range(1, STEPS + 1)]
    assert [r > 5 for r in rho] == [False] * 5 + [True] * (STEPS - 5)


def test_radam_unrectified_first_update_is_lr_times_bias_corrected_momentum() -> None:
    """Before the switch: p = p - lr * m / (1 - beta1^s); at s = 1, m = (1 - beta1) g."""
    state = R.init_state("radam", np.zeros(2), {})
    p = R.radam_step(np.zeros(2), np.array([2.0, -4.0]), state, lr=0.1)
    np.testing.assert_allclose(p, [-0.2, 0.4], rtol=1e-15)


def test_adamax_first_update_and_eps_inside_the_max() -> None:
    """s = 1: m = (1 - b1) g, u = max(0, |g| + eps), p = -lr/(1 - b1) * m/u = -lr g/(|g| + eps)."""
    g = np.array([1e-8, -3.0])
    state = R.init_state("adamax", np.zeros(2), {})
    p = R.adamax_step(np.zeros(2), g, state, lr=0.1, eps=1e-8)
    np.testing.assert_allclose(p, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(state.buffers["exp_inf"], np.abs(g) + 1e-8, rtol=0)


def test_adadelta_first_update_closed_form() -> None:
    """s = 1: v = (1 - rho) g^2, delta = sqrt(eps)/sqrt(v + eps) * g, u = (1 - rho) delta^2."""
    g, rho, eps, lr = np.array([0.5, -2.0]), 0.9, 1e-6, 1.0
    state = R.init_state("adadelta", np.zeros(2), {})
    p = R.adadelta_step(np.zeros(2), g, state, lr=lr, rho=rho, eps=eps)
    delta = np.sqrt(eps) / np.sqrt((1 - rho) * g * g + eps) * g
    np.testing.assert_allclose(p, -lr * delta, rtol=1e-14)
    np.testing.assert_allclose(state.buffers["acc_delta"], (1 - rho) * delta * delta, rtol=1e-14)


def test_nadam_mu_product_is_the_product_of_the_momentum_schedule() -> None:
    """mu_product after s updates = prod_k beta1 (1 - 0.5 * 0.96^(k * momentum_decay))."""
    state = R.init_state("nadam", np.zeros(3), {})
    p = np.zeros(3)
    for _ in range(4):
        p = R.nadam_step(p, np.ones(3), state, lr=0.01)
    want = np.prod([0.9 * (1 - 0.5 * 0.96 ** (k * 4e-3)) for k in range(1, 5)])
    assert float(state.buffers["mu_product"]) == pytest.approx(want, rel=1e-15)


def test_adafactor_first_update_of_a_matrix_closed_form() -> None:
    """s = 1 (w = 1): R = mean(g^2, -1), C = mean(g^2, -2), V = R C / mean(R); rho = min(lr, 1);
    alpha = max(eps2, RMS(p)) rho; U = g/sqrt(V); p -= alpha / max(1, RMS(U)/d) * U."""
    rng = np.random.default_rng(0)
    p0, g = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    lr, wd = 0.05, 0.1
    row = (g * g).mean(axis=1, keepdims=True)
    col = (g * g).mean(axis=0, keepdims=True)
    v = row * col / row.mean()
    u = g / np.sqrt(v)
    alpha = max(1e-3, np.sqrt((p0 * p0).mean())) * lr
    want = p0 * (1 - lr * wd) - alpha / max(1.0, np.sqrt((u * u).mean())) * u
    state = R.init_state("adafactor", p0, {})
    assert {k: b.shape for k, b in state.buffers.items()} == {"row_var": (3, 1), "col_var": (1, 5)}
    got = R.adafactor_step(p0, g, state, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_adafactor_eps1_none_is_the_run_dtypes_machine_epsilon() -> None:
    """A gradient entry of 1e-20: V = 1e-40 clamps at eps1^2, so U = 1e-20/eps1 there, with
    eps1 = finfo(run dtype).eps when None (torch). p = ones: alpha = lr, no clipping."""
    g, lr = np.array([1e-20, 1.0]), 0.01
    for run_dtype, eps1 in (("float64", 2.220446049250313e-16), ("float32", 1.1920928955078125e-07), (None, 1e-30)):
        state = R.init_state("adafactor", np.ones(2), {})
        hyper = {"beta2_decay": -0.8, "eps": (None if run_dtype else eps1, 1e-3), "d": 1.0}
        p = R.update(
            "adafactor",
            np.ones(2),
            g,
            state,
            lr=lr,
            weight_decay=0.0,
            hyperparameters=hyper,
            run_dtype=run_dtype or "float32",
        )
        assert (1 - p[0]) / lr == pytest.approx(1e-20 / max(eps1, 1e-20), rel=1e-12)
        assert p[1] == pytest.approx(1 - lr, rel=1e-15)


def test_init_state_of_the_new_families_uses_torchs_names() -> None:
    p = np.zeros((2, 3))
    names = {f: set(R.init_state(f, p, {}).buffers) for f in ("nadam", "radam", "adamax", "adadelta", "muon")}
    assert names == {
        "nadam": {"exp_avg", "exp_avg_sq", "mu_product"},
        "radam": {"exp_avg", "exp_avg_sq"},
        "adamax": {"exp_avg", "exp_inf"},
        "adadelta": {"square_avg", "acc_delta"},
        "muon": {"momentum_buffer"},
    }
    assert set(R.init_state("adafactor", np.zeros(4), {}).buffers) == {"variance"}
    assert float(R.init_state("nadam", p, {}).buffers["mu_product"]) == 1.0


def test_update_checks_hyperparameters_of_the_new_families() -> None:
    state = R.init_state("adamax", np.zeros(1), {})
    with pytest.raises(ValueError, match="invalid hyperparameters for adamax: decoupled_weight_decay"):
        R.update(
            "adamax",
            np.zeros(1),
            np.ones(1),
            state,
            lr=0.1,
            weight_decay=0.0,
            hyperparameters={"decoupled_weight_decay": True},
        )
    assert set(R.FAMILIES) == set(FAMILY_DEFAULTS)
