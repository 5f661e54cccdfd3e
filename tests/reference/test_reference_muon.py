"""Muon: the reference against torch.optim.Muon in float64, and the definition of "equal"
with torch's stock bfloat16 Newton-Schulz iteration (lrspec.reference.muon, docs/families.md).

(a) torch's ``_zeropower_via_newtonschulz`` replaced by the same iteration in float64: torch and
the reference agree to <= 1e-12 over 25 updates, each adjust_lr_fn, nesterov on and off.
(b) the stock bfloat16 iteration: one update's direction within BF16_UPDATE_RTOL (Frobenius,
relative) for inputs of condition number <= BF16_MAX_CONDITION, and the trajectory bound of
the definition for torch's stock Muon over 20 updates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _lrspec_reference_helpers import (
    assert_states_match,
    assert_trajectories,
    decaying_lr,
    random_problem,
    reference_run,
    torch_run,
)

from lrspec import reference as R
from lrspec.reference.muon import adjust_lr

torch = pytest.importorskip("torch")
muon_module = pytest.importorskip("torch.optim._muon")

STEPS = 25
SHAPES = {"wide": (3, 7), "tall": (9, 4), "square": (5, 5)}
COEFFS = (3.4445, -4.775, 2.0315)


def float64_newton_schulz(grad: Any, ns_coefficients: Any, ns_steps: int, eps: float) -> Any:
    """torch's _zeropower_via_newtonschulz with ``grad.bfloat16()`` replaced by float64."""
    a, b, c = ns_coefficients
    x = grad.to(torch.float64)
    if grad.size(0) > grad.size(1):
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        gram_update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.addmm(x, gram_update, x, beta=a)
    if grad.size(0) > grad.size(1):
        x = x.T
    return x


def hyper(adjust_lr_fn: str | None, nesterov: bool, momentum: float = 0.95) -> dict[str, Any]:
    return {
        "momentum": momentum,
        "nesterov": nesterov,
        "ns_coefficients": COEFFS,
        "eps": 1e-7,
        "ns_steps": 5,
        "adjust_lr_fn": adjust_lr_fn,
    }


@pytest.mark.parametrize("nesterov", [True, False], ids=["nesterov", "plain"])
@pytest.mark.parametrize("adjust_lr_fn", [None, "original", "match_rms_adamw"])
def test_muon_matches_torch_with_float64_newton_schulz(
    monkeypatch: pytest.MonkeyPatch, adjust_lr_fn: str | None, nesterov: bool
) -> None:
    monkeypatch.setattr(muon_module, "_zeropower_via_newtonschulz", float64_newton_schulz)
    init, grads = random_problem(SHAPES, STEPS, seed=7)
    lr_fn = decaying_lr(0.02)
    kwargs = {"weight_decay": 0.1, "momentum": 0.9, "nesterov": nesterov, "adjust_lr_fn": adjust_lr_fn}
    expected, opt, tensors = torch_run(torch, torch.optim.Muon, kwargs, lr_fn, init, grads)
    ref, states = reference_run("muon", hyper(adjust_lr_fn, nesterov, 0.9), 0.1, lr_fn, init, grads)
    assert_trajectories(ref, expected)
    assert_states_match(states, opt, tensors, STEPS)


def test_newton_schulz_formula_and_transposition() -> None:
    """One iteration written out: X = G/||G||_F, A = X X^T, X' = a X + (b A + c A A) X; a tall
    matrix is iterated transposed (so A is the small Gram matrix) and transposed back."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=(6, 3))
    x = g.T / np.linalg.norm(g)
    gram = x @ x.T
    want = (3.0 * x + (-2.0 * gram + 0.5 * gram @ gram) @ x).T
    np.testing.assert_allclose(R.newton_schulz(g, (3.0, -2.0, 0.5), 1), want, rtol=1e-14)
    # five default steps orthogonalise approximately: singular values in about [0.5, 1.5]
    s = np.linalg.svd(R.newton_schulz(rng.normal(size=(8, 8))), compute_uv=False)
    assert s.min() > 0.5 and s.max() < 1.5
    with pytest.raises(ValueError, match="2-D"):
        R.newton_schulz(np.ones(3))


def test_adjust_lr_rules() -> None:
    assert adjust_lr(0.1, None, (8, 2)) == pytest.approx(0.2)  # sqrt(max(1, 8/2))
    assert adjust_lr(0.1, "original", (2, 8)) == pytest.approx(0.1)
    assert adjust_lr(0.1, "match_rms_adamw", (4, 9)) == pytest.approx(0.1 * 0.2 * 3)
    with pytest.raises(ValueError, match="adjust_lr_fn"):
        adjust_lr(0.1, "bogus", (2, 2))


def test_muon_rejects_non_matrices() -> None:
    state = R.init_state("muon", np.zeros(3), {})
    with pytest.raises(ValueError, match="2-D"):
        R.muon_step(np.zeros(3), np.ones(3), state, lr=0.1)


def stock_newton_schulz(u: np.ndarray) -> np.ndarray:
    return muon_module._zeropower_via_newtonschulz(torch.tensor(u), COEFFS, 5, 1e-7).to(torch.float64).numpy()


def matrix_with_condition(rng: np.random.Generator, rows: int, cols: int, kappa: float) -> np.ndarray:
    """A random matrix whose singular values spread log-uniformly over [1/kappa, 1] (both ends hit)."""
    m = min(rows, cols)
    u, _ = np.linalg.qr(rng.normal(size=(rows, m)))
    v, _ = np.linalg.qr(rng.normal(size=(cols, m)))
    s = 10 ** rng.uniform(-np.log10(kappa), 0, size=m)
    s[0], s[-1] = 1.0, 1.0 / kappa
    out: np.ndarray = (u * s) @ v.T
    return out


@pytest.mark.parametrize("shape", [(2, 9), (16, 16), (48, 12), (33, 70)])
def test_bf16_update_within_the_bound_for_conditioned_inputs(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for _ in range(6):
        u = matrix_with_condition(rng, *shape, R.BF16_MAX_CONDITION) * 10 ** rng.uniform(-4, 3)
        ref = R.newton_schulz(u)
        err = np.linalg.norm(stock_newton_schulz(u) - ref) / np.linalg.norm(ref)
        assert err <= R.BF16_UPDATE_RTOL, (shape, err)
        assert err > 1e-4  # it is the bfloat16 iteration, not an exact one


def test_bf16_has_no_relative_bound_for_rank_deficient_inputs() -> None:
    """The definition's exclusion, measured: a rank-1 input gets O(1) spurious directions."""
    rng = np.random.default_rng(1)
    u = np.outer(rng.normal(size=24), rng.normal(size=24))
    ref = R.newton_schulz(u)
    assert np.linalg.norm(stock_newton_schulz(u) - ref) / np.linalg.norm(ref) > 10 * R.BF16_UPDATE_RTOL


def aligned_gradients(rng: np.random.Generator, shape: tuple[int, int], steps: int) -> list[np.ndarray]:
    """Gradients U diag(s_t) V^T with fixed U, V and s_t in [0.5, 1.5]: every momentum buffer and
    nesterov blend has the same singular vectors and condition number <= 3 (the definition's
    domain)."""
    m = min(shape)
    u, _ = np.linalg.qr(rng.normal(size=(shape[0], m)))
    v, _ = np.linalg.qr(rng.normal(size=(shape[1], m)))
    return [(u * rng.uniform(0.5, 1.5, size=m)) @ v.T for _ in range(steps)]


def test_stock_torch_muon_within_the_trajectory_bound() -> None:
    """Fed the same gradients, ||p_torch - p_ref||_F <= RTOL * sum_t adjust_lr(lr_t) ||O_ref,t||_F
    after every update (torch's stock bfloat16 iteration, float64 parameters, weight decay on)."""
    shapes = {"a": (8, 8), "b": (12, 6), "c": (4, 10)}
    steps, lr_fn = 20, decaying_lr(0.05)
    rng = np.random.default_rng(3)
    init = {n: rng.normal(size=s) for n, s in shapes.items()}
    per_param = {n: aligned_gradients(rng, s, steps) for n, s in shapes.items()}
    grads = [{n: per_param[n][t] for n in shapes} for t in range(steps)]
    kwargs = {"weight_decay": 0.1, "adjust_lr_fn": "match_rms_adamw"}
    expected, _, _ = torch_run(torch, torch.optim.Muon, kwargs, lr_fn, init, grads)
    h = hyper("match_rms_adamw", True)
    ref, _ = reference_run("muon", h, 0.1, lr_fn, init, grads)
    worst = 0.0
    for name, shape in shapes.items():
        buf = np.zeros(shape)
        budget = 0.0
        for t in range(steps):
            # the reference's direction O_ref,t, from the (shared) momentum buffer
            g = grads[t][name]
            buf = buf + (g - buf) * 0.05
            blend = g + (buf - g) * 0.95
            assert np.linalg.cond(blend) <= R.BF16_MAX_CONDITION
            budget += adjust_lr(lr_fn(t), "match_rms_adamw", shape) * np.linalg.norm(R.newton_schulz(blend))
            dev = np.linalg.norm(expected[t + 1][name] - ref[t + 1][name])
            assert dev <= R.BF16_UPDATE_RTOL * budget, (name, t, dev, budget)
            worst = max(worst, dev / budget)
    assert worst > 1e-4  # the bound is exercised by a real bfloat16 difference


def test_reference_optimizer_steps_each_group_with_its_family(monkeypatch: pytest.MonkeyPatch) -> None:
    """Muon for the matrices, AdamW for the rest (one plan): simulate() against two stock torch
    optimizers stepped together (float64 Newton-Schulz in torch), 20 updates."""
    import lrspec

    monkeypatch.setattr(muon_module, "_zeropower_via_newtonschulz", float64_newton_schulz)
    shapes = {"enc.weight": (4, 6), "enc.bias": (6,), "head.weight": (6, 2), "head.scale": ()}
    spec = lrspec.Spec.model_validate(
        {
            "version": 1,
            "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
            "groups": [
                {
                    "name": "matrices",
                    "params": ["*"],
                    "ndim": 2,
                    "lr": 0.02,
                    "optimizer": {"type": "muon", "adjust_lr_fn": "match_rms_adamw"},
                }
            ],
        }
    )
    plan = lrspec.resolve(spec, shapes)
    assert {g.name: g.family for g in plan.groups} == {"matrices": "muon", "default": "adamw"}
    init, grads = random_problem(shapes, 20, seed=11)
    ref = R.simulate(plan, init, grads)

    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in init.items()}
    muon = torch.optim.Muon(
        [tensors["enc.weight"], tensors["head.weight"]], lr=0.02, weight_decay=0.05, adjust_lr_fn="match_rms_adamw"
    )
    adamw = torch.optim.AdamW([tensors["enc.bias"], tensors["head.scale"]], lr=0.01, weight_decay=0.05, foreach=False)
    for t, gs in enumerate(grads):
        for n, x in tensors.items():
            x.grad = torch.tensor(gs[n], dtype=torch.float64)
        muon.step()
        adamw.step()
        for n, x in tensors.items():
            np.testing.assert_allclose(ref[t + 1][n], x.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=n)
