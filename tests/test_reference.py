"""Tests of lrspec.reference, the float64 golden model of every optimizer family.

Numbers are checked against closed forms written here or against torch.optim in float64
(single-tensor path); never against the module's own output.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import lrspec
from lrspec import reference as R

Snapshots = list[dict[str, np.ndarray]]


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def make_plan(
    optimizer: Mapping[str, Any],
    names: Sequence[str] | Mapping[str, Sequence[int]],
    groups: Sequence[Mapping[str, Any]] = (),
    **extra: Any,
) -> lrspec.Plan:
    spec = lrspec.Spec.model_validate({"version": 1, "optimizer": dict(optimizer), "groups": list(groups), **extra})
    return lrspec.resolve(spec, names)


def assert_close(actual: npt.ArrayLike, expected: npt.ArrayLike, rel: float = 1e-12) -> None:
    """|actual - expected| <= rel * (|expected| + max|expected|), elementwise."""
    want = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), want, rtol=rel, atol=rel * scale)


def scalar_step(
    fn: Callable[..., np.ndarray], family: str, p0: float, grads: Sequence[float], **kw: Any
) -> list[float]:
    """Run a step function on a 1-element array; return p after each update."""
    hyper = {k: v for k, v in kw.items() if k not in ("lr", "weight_decay")}
    state = R.init_state(family, np.array([p0]), hyper)
    p = np.array([p0])
    out = []
    for g in grads:
        p = fn(p, np.array([g]), state, **kw)
        out.append(float(p[0]))
    return out


def torch_run(
    opt_cls: Any,
    groups: Sequence[tuple[Sequence[str], Mapping[str, Any]]],
    init: Mapping[str, np.ndarray],
    grads: Sequence[Mapping[str, np.ndarray | None]],
    lr_fns: Sequence[Callable[[int], float]] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> tuple[Snapshots, Any, dict[str, Any]]:
    """torch float64, foreach=False; a missing/None gradient leaves p.grad = None.

    ``defaults`` go to the constructor (torch's Adagrad reads initial_accumulator_value
    from there only, never from a param group)."""
    torch = pytest.importorskip("torch")
    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in init.items()}
    param_groups = [{"params": [tensors[n] for n in names], **kw} for names, kw in groups]
    opt = opt_cls(param_groups, foreach=False, **(defaults or {}))

    def snap() -> dict[str, np.ndarray]:
        return {n: x.detach().numpy().copy() for n, x in tensors.items()}

    snaps = [snap()]
    for t, step_grads in enumerate(grads):
        if lr_fns is not None:
            for pg, fn in zip(opt.param_groups, lr_fns, strict=True):
                pg["lr"] = fn(t)
        for n, x in tensors.items():
            g = step_grads.get(n)
            x.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
        opt.step()
        snaps.append(snap())
    return snaps, opt, tensors


def random_problem(
    shapes: Mapping[str, tuple[int, ...]], steps: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray | None]]]:
    rng = np.random.default_rng(seed)
    init = {n: rng.normal(size=s) for n, s in shapes.items()}
    grads: list[dict[str, np.ndarray | None]] = [
        {n: rng.normal(size=s) for n, s in shapes.items()} for _ in range(steps)
    ]
    return init, grads


def assert_trajectories(ref: Snapshots, expected: Snapshots, rel: float = 1e-12) -> None:
    assert len(ref) == len(expected)
    for k, (a, b) in enumerate(zip(ref, expected, strict=True)):
        assert a.keys() == b.keys()
        for n in a:
            try:
                assert_close(a[n], b[n], rel)
            except AssertionError as exc:
                raise AssertionError(f"snapshot {k}, parameter {n!r}: {exc}") from None


# ---------------------------------------------------------------------------------------
# closed forms, one family at a time
# ---------------------------------------------------------------------------------------


def test_sgd_plain_and_coupled_weight_decay() -> None:
    lr, wd, p0, gs = 0.1, 0.01, 1.5, [0.3, -0.2]
    p1 = p0 - lr * (gs[0] + wd * p0)
    p2 = p1 - lr * (gs[1] + wd * p1)
    assert_close(np.array(scalar_step(R.sgd_step, "sgd", p0, gs, lr=lr, weight_decay=wd)), [p1, p2], 1e-15)


def test_sgd_momentum_dampening_not_on_first_update() -> None:
    lr, mu, tau, p0, gs = 0.1, 0.9, 0.5, 1.0, [1.0, 2.0, -1.0]
    b1 = gs[0]  # first update: buffer = g, no dampening
    b2 = mu * b1 + (1 - tau) * gs[1]
    b3 = mu * b2 + (1 - tau) * gs[2]
    expected = [p0 - lr * b1, p0 - lr * (b1 + b2), p0 - lr * (b1 + b2 + b3)]
    got = scalar_step(R.sgd_step, "sgd", p0, gs, lr=lr, momentum=mu, dampening=tau)
    assert_close(np.array(got), expected, 1e-14)
    assert got[0] == pytest.approx(0.9) and got[1] == pytest.approx(0.71) and got[2] == pytest.approx(0.589)


def test_sgd_nesterov() -> None:
    lr, mu, p0, gs = 0.05, 0.8, -0.4, [0.5, 1.5]
    b1 = gs[0]
    p1 = p0 - lr * (gs[0] + mu * b1)
    b2 = mu * b1 + gs[1]
    p2 = p1 - lr * (gs[1] + mu * b2)
    got = scalar_step(R.sgd_step, "sgd", p0, gs, lr=lr, momentum=mu, nesterov=True)
    assert_close(np.array(got), [p1, p2], 1e-14)


def test_sgd_momentum_with_weight_decay_uses_decayed_gradient_in_buffer() -> None:
    lr, mu, wd, p0, gs = 0.1, 0.9, 0.5, 2.0, [1.0, 1.0]
    b1 = gs[0] + wd * p0
    p1 = p0 - lr * b1
    b2 = mu * b1 + (gs[1] + wd * p1)
    p2 = p1 - lr * b2
    got = scalar_step(R.sgd_step, "sgd", p0, gs, lr=lr, weight_decay=wd, momentum=mu)
    assert_close(np.array(got), [p1, p2], 1e-14)


def _adam_closed_form(
    p0: float,
    gs: Sequence[float],
    lr: float,
    b1: float,
    b2: float,
    eps: float,
    wd: float = 0.0,
    decoupled: bool = False,
    amsgrad: bool = False,
) -> list[float]:
    """Adam written from the paper's formulas with torch's eps placement and weight decay."""
    p, m, v, vmax, out = p0, 0.0, 0.0, 0.0, []
    for s, g in enumerate(gs, start=1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        vhat = vmax if amsgrad else v
        p = p - lr / (1 - b1**s) * m / (math.sqrt(vhat) / math.sqrt(1 - b2**s) + eps)
        out.append(p)
    return out


def test_adam_first_update_is_lr_times_sign() -> None:
    lr, eps = 0.01, 1e-8
    g = np.array([0.3, -2.0, 1e-3])
    p0 = np.array([1.0, 0.0, -1.0])
    state = R.init_state("adam", p0, {"amsgrad": False})
    p1 = R.adam_step(p0, g, state, lr=lr, eps=eps)
    # m1 = (1-b1) g, v1 = (1-b2) g^2, bias corrections make it g / (|g| + eps)
    assert_close(p1, p0 - lr * g / (np.abs(g) + eps), 1e-14)
    assert state.step == 1
    assert_close(state.buffers["exp_avg"], 0.1 * g, 1e-15)
    assert_close(state.buffers["exp_avg_sq"], 0.001 * g * g, 1e-14)


@pytest.mark.parametrize(
    ("wd", "amsgrad", "gs"),
    [(0.0, False, [0.5, -0.1, 0.7]), (0.1, False, [0.5, -0.1, 0.7]), (0.0, True, [10.0, 0.1, 0.2])],
    ids=["plain", "coupled_wd", "amsgrad"],
)
def test_adam_three_updates(wd: float, amsgrad: bool, gs: list[float]) -> None:
    lr, b1, b2, eps, p0 = 0.02, 0.8, 0.9, 1e-6, 0.7
    expected = _adam_closed_form(p0, gs, lr, b1, b2, eps, wd=wd, amsgrad=amsgrad)
    got = scalar_step(R.adam_step, "adam", p0, gs, lr=lr, weight_decay=wd, betas=(b1, b2), eps=eps, amsgrad=amsgrad)
    assert_close(np.array(got), expected, 1e-13)
    if amsgrad:  # with the max, the second update differs from plain Adam's
        plain = _adam_closed_form(p0, gs, lr, b1, b2, eps)
        assert abs(got[1] - plain[1]) > 1e-4


def test_adamw_decays_before_the_step() -> None:
    lr, wd, eps, p0, g = 0.1, 0.2, 1e-8, 3.0, -0.5
    expected_first = p0 * (1 - lr * wd) - lr * g / (abs(g) + eps)
    got = scalar_step(R.adamw_step, "adamw", p0, [g, 0.25], lr=lr, weight_decay=wd, eps=eps)
    assert got[0] == pytest.approx(expected_first, rel=1e-14)
    expected = _adam_closed_form(p0, [g, 0.25], lr, 0.9, 0.999, eps, wd=wd, decoupled=True)
    assert_close(np.array(got), expected, 1e-13)


@pytest.mark.parametrize(
    ("centered", "momentum", "wd"), [(False, 0.0, 0.0), (True, 0.0, 0.0), (False, 0.7, 0.0), (True, 0.7, 0.3)]
)
def test_rmsprop_three_updates(centered: bool, momentum: float, wd: float) -> None:
    lr, alpha, eps, p0, gs = 0.01, 0.9, 1e-8, 0.5, [1.0, -0.5, 2.0]
    p, v, gbar, b, expected = p0, 0.0, 0.0, 0.0, []
    for g in gs:
        g = g + wd * p
        v = alpha * v + (1 - alpha) * g * g
        gbar = alpha * gbar + (1 - alpha) * g
        den = math.sqrt(v - gbar * gbar if centered else v) + eps  # eps outside the sqrt
        if momentum:
            b = momentum * b + g / den  # lr outside the buffer
            p = p - lr * b
        else:
            p = p - lr * g / den
        expected.append(p)
    got = scalar_step(
        R.rmsprop_step,
        "rmsprop",
        p0,
        gs,
        lr=lr,
        weight_decay=wd,
        alpha=alpha,
        eps=eps,
        momentum=momentum,
        centered=centered,
    )
    assert_close(np.array(got), expected, 1e-13)


def test_rmsprop_first_update_value() -> None:
    # v1 = (1 - alpha) g^2, so p1 = p0 - lr * g / (sqrt(1 - alpha) |g| + eps)
    got = scalar_step(R.rmsprop_step, "rmsprop", 0.0, [2.0], lr=0.01, alpha=0.99, eps=0.0)
    assert got[0] == pytest.approx(-0.01 / math.sqrt(0.01), rel=1e-14)  # = -0.1
    # centered: gbar1 = (1-alpha) g, den = sqrt((1-alpha) g^2 - (1-alpha)^2 g^2)
    got_c = scalar_step(R.rmsprop_step, "rmsprop", 0.0, [2.0], lr=0.01, alpha=0.99, eps=0.0, centered=True)
    assert got_c[0] == pytest.approx(-0.01 * 2.0 / math.sqrt(0.01 * 4 - 1e-4 * 4), rel=1e-13)


@pytest.mark.parametrize(("lr_decay", "init_acc", "wd"), [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (0.1, 0.3, 0.2)])
def test_adagrad_three_updates(lr_decay: float, init_acc: float, wd: float) -> None:
    lr, eps, p0, gs = 0.1, 1e-10, 1.0, [0.5, -1.0, 2.0]
    p, acc, expected = p0, init_acc, []
    for s, g in enumerate(gs, start=1):
        g = g + wd * p
        clr = lr / (1 + (s - 1) * lr_decay)
        acc += g * g
        p = p - clr * g / (math.sqrt(acc) + eps)
        expected.append(p)
    got = scalar_step(
        R.adagrad_step,
        "adagrad",
        p0,
        gs,
        lr=lr,
        weight_decay=wd,
        lr_decay=lr_decay,
        eps=eps,
        initial_accumulator_value=init_acc,
    )
    assert_close(np.array(got), expected, 1e-13)


def test_adagrad_state_starts_at_initial_accumulator_value() -> None:
    state = R.init_state("adagrad", np.zeros((2, 3)), {"initial_accumulator_value": 0.25})
    assert state.step == 0
    np.testing.assert_array_equal(state.buffers["sum"], np.full((2, 3), 0.25))


def test_init_state_buffers_follow_torch_names() -> None:
    p = np.zeros(4)
    assert R.init_state("sgd", p, {"momentum": 0.9}).buffers == {}
    assert set(R.init_state("adam", p, {"amsgrad": True}).buffers) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert set(R.init_state("adamw", p, {"amsgrad": False}).buffers) == {"exp_avg", "exp_avg_sq"}
    assert set(R.init_state("rmsprop", p, {"momentum": 0.5, "centered": True}).buffers) == {
        "square_avg",
        "momentum_buffer",
        "grad_avg",
    }
    assert set(R.init_state("rmsprop", p, {"momentum": 0.0, "centered": False}).buffers) == {"square_avg"}


def test_step_functions_do_not_modify_their_inputs() -> None:
    for family in R.FAMILIES:
        # muon takes only matrices: the same numbers as a 1 x 2 matrix
        shape = (1, 2) if family == "muon" else (2,)
        p = np.array([1.0, 2.0]).reshape(shape)
        g = np.array([0.5, -0.5]).reshape(shape)
        hyper = {"momentum": 0.9} if family in ("sgd", "rmsprop") else {}
        state = R.init_state(family, p, hyper)
        new = R.update(family, p, g, state, lr=0.1, weight_decay=0.1, hyperparameters=hyper)
        np.testing.assert_array_equal(p.ravel(), [1.0, 2.0])
        np.testing.assert_array_equal(g.ravel(), [0.5, -0.5])
        assert not np.array_equal(new, p), family
        assert state.step == 1


def test_update_rejects_unknown_family_and_hyperparameters() -> None:
    p = np.zeros(2)
    with pytest.raises(ValueError, match="unknown optimizer family 'lamb'"):
        R.update("lamb", p, p, R.OptimizerState(), lr=0.1, weight_decay=0.0, hyperparameters={})
    with pytest.raises(ValueError, match="invalid hyperparameters for sgd"):
        R.update("sgd", p, p, R.OptimizerState(), lr=0.1, weight_decay=0.0, hyperparameters={"betas": (0.9, 0.99)})


# ---------------------------------------------------------------------------------------
# against torch.optim, float64, 50 updates
# ---------------------------------------------------------------------------------------

TORCH_CASES: list[tuple[str, dict[str, Any]]] = [
    ("sgd_plain", {"type": "sgd", "lr": 0.05}),
    ("sgd_momentum", {"type": "sgd", "lr": 0.05, "momentum": 0.9}),
    ("sgd_nesterov", {"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd_dampening", {"type": "sgd", "lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    ("sgd_wd", {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.05}),
    ("adam", {"type": "adam", "lr": 0.01}),
    ("adam_amsgrad", {"type": "adam", "lr": 0.01, "amsgrad": True, "betas": [0.8, 0.95]}),
    ("adam_wd", {"type": "adam", "lr": 0.01, "weight_decay": 0.1, "eps": 1e-6}),
    ("adamw", {"type": "adamw", "lr": 0.01, "weight_decay": 0.1}),
    ("adamw_amsgrad", {"type": "adamw", "lr": 0.01, "weight_decay": 0.05, "amsgrad": True}),
    ("rmsprop", {"type": "rmsprop", "lr": 0.01}),
    ("rmsprop_centered", {"type": "rmsprop", "lr": 0.01, "centered": True, "alpha": 0.9}),
    ("rmsprop_momentum", {"type": "rmsprop", "lr": 0.01, "momentum": 0.9}),
    ("rmsprop_centered_momentum", {"type": "rmsprop", "lr": 0.01, "centered": True, "momentum": 0.5}),
    ("rmsprop_wd", {"type": "rmsprop", "lr": 0.01, "weight_decay": 0.1, "eps": 1e-4}),
    ("adagrad", {"type": "adagrad", "lr": 0.1}),
    ("adagrad_lr_decay", {"type": "adagrad", "lr": 0.1, "lr_decay": 0.05}),
    ("adagrad_init_acc_wd", {"type": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.5, "weight_decay": 0.1}),
]

TORCH_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
SHAPES = {"enc.weight": (3, 4), "enc.bias": (4,), "head.scale": ()}


def torch_kwargs(optimizer: Mapping[str, Any]) -> dict[str, Any]:
    kw = {k: v for k, v in optimizer.items() if k != "type"}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return kw


@pytest.mark.parametrize(("case", "optimizer"), TORCH_CASES, ids=[c for c, _ in TORCH_CASES])
def test_matches_torch_float64(case: str, optimizer: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    init, grads = random_problem(SHAPES, steps=50, seed=len(case))
    plan = make_plan(optimizer, {n: s for n, s in SHAPES.items()})
    ref = R.simulate(plan, init, grads)
    opt_cls = getattr(torch.optim, TORCH_CLASSES[optimizer["type"]])
    kw = torch_kwargs(optimizer)
    expected, opt, tensors = torch_run(opt_cls, [(list(SHAPES), kw)], init, grads, defaults=kw)
    assert_trajectories(ref, expected)
    # the state carries torch's names and values
    stepper = R.ReferenceOptimizer(plan, init)
    for g in grads:
        stepper.step(g)
    for name, x in tensors.items():
        torch_state = opt.state[x]
        mine = stepper.state(name)
        assert mine is not None
        for key, buf in mine.buffers.items():
            assert_close(buf, torch_state[key].numpy(), 1e-11)
        tensor_keys = {k for k, v in torch_state.items() if k != "step" and v is not None}
        assert set(mine.buffers) == tensor_keys
        if "step" in torch_state:
            assert mine.step == int(torch_state["step"]) == 50


# ---------------------------------------------------------------------------------------
# simulate() with real plans
# ---------------------------------------------------------------------------------------


def test_simulate_returns_n_plus_one_independent_float64_snapshots() -> None:
    plan = make_plan({"type": "sgd", "lr": 0.5}, ["a", "b"])
    init: dict[str, Any] = {"a": np.array([1, 2], dtype=np.int32), "b": [0.5]}
    snaps = R.simulate(plan, init, [{"a": np.ones(2), "b": np.ones(1)}] * 3)
    assert len(snaps) == 4
    assert snaps[0]["a"].dtype == np.float64
    np.testing.assert_array_equal(snaps[0]["a"], [1.0, 2.0])
    np.testing.assert_array_equal(snaps[3]["a"], [1.0 - 1.5, 2.0 - 1.5])
    np.testing.assert_array_equal(snaps[2]["b"], [0.5 - 1.0])
    snaps[1]["a"][0] = 99.0  # snapshots do not share memory
    assert snaps[2]["a"][0] == 1.0 - 1.0
    np.testing.assert_array_equal(init["a"], [1, 2])


def test_groups_with_different_lrs_and_hyperparameters_match_torch() -> None:
    torch = pytest.importorskip("torch")
    shapes = {"enc.weight": (3, 2), "enc.bias": (2,), "head.weight": (2, 2)}
    plan = make_plan(
        {"type": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01},
        shapes,
        [
            {"name": "head", "params": ["head.*"], "lr_mult": 0.5, "momentum": 0.5, "nesterov": True},
            {"name": "bias", "params": ["*.bias"], "weight_decay": 0.0, "dampening": 0.2},
        ],
    )
    assert len(plan.groups) == 3
    init, grads = random_problem(shapes, steps=30, seed=3)
    expected, _, _ = torch_run(
        torch.optim.SGD,
        [
            (["enc.weight"], {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
            (["enc.bias"], {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "dampening": 0.2}),
            (["head.weight"], {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01, "nesterov": True}),
        ],
        init,
        grads,
    )
    assert_trajectories(R.simulate(plan, init, grads), expected)


def test_schedules_give_the_lr_used_at_each_update() -> None:
    names = ["a", "b", "c"]
    plan = make_plan(
        {"type": "sgd", "lr": 0.1},
        names,
        [
            {"name": "a", "params": ["a"], "schedule": {"type": "step", "step_size": 3, "gamma": 0.5}},
            {
                "name": "b",
                "params": ["b"],
                "lr": 0.2,
                "schedule": {"type": "cosine", "decay_steps": 10, "min_mult": 0.1},
            },
            {"name": "c", "params": ["c"], "schedule": {"type": "warmup", "steps": 4, "start_mult": 0.2}},
        ],
    )
    n = 14
    formulas: dict[str, Callable[[int], float]] = {
        "a": lambda t: 0.1 * 0.5 ** (t // 3),
        "b": lambda t: 0.2 * (0.1 + 0.9 * (1 + math.cos(math.pi * min(t, 10) / 10)) / 2),
        "c": lambda t: 0.1 * (0.2 + 0.8 * t / 4 if t < 4 else 1.0),
    }
    snaps = R.simulate(plan, {k: np.zeros(1) for k in names}, [{k: np.ones(1) for k in names}] * n)
    for name, formula in formulas.items():
        used = [float(snaps[t][name][0] - snaps[t + 1][name][0]) for t in range(n)]  # p -= lr * 1
        assert_close(np.array(used), [formula(t) for t in range(n)], 1e-13)
    assert formulas["a"](0) != formulas["a"](3)  # the schedules really vary


def test_permanent_freeze_is_bitwise_and_stateless() -> None:
    plan = make_plan(
        {"type": "adam", "lr": 0.1, "weight_decay": 0.1},
        ["emb.weight", "head.weight"],
        [{"name": "emb", "params": ["emb.*"], "freeze": True}],
    )
    init, grads = random_problem({"emb.weight": (4, 3), "head.weight": (3,)}, steps=10, seed=5)
    opt = R.ReferenceOptimizer(plan, init)
    for g in grads:
        opt.step(g)
    assert opt.t == 10
    assert np.array_equal(opt.params["emb.weight"], init["emb.weight"])
    assert opt.state("emb.weight") is None
    assert set(opt.states) == {"head.weight"}
    assert not np.allclose(opt.params["head.weight"], init["head.weight"])
    snaps = R.simulate(plan, init, grads)
    assert all(np.array_equal(s["emb.weight"], init["emb.weight"]) for s in snaps)


def test_freeze_until_restarts_adam_at_step_one_and_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    shapes = {"enc.weight": (3, 3), "head.weight": (3,)}
    until, steps = 6, 20
    plan = make_plan(
        {"type": "adam", "lr": 0.01, "weight_decay": 0.05},
        shapes,
        [{"name": "enc", "params": ["enc.*"], "freeze": {"until_step": until}}],
        schedule={"type": "step", "step_size": 4, "gamma": 0.5},
    )
    init, grads = random_problem(shapes, steps=steps, seed=7)
    snaps = R.simulate(plan, init, grads)
    for t in range(until + 1):
        assert np.array_equal(snaps[t]["enc.weight"], init["enc.weight"]), t
    # first update at t = until: bias correction at s = 1, lr from the (unrestarted) schedule
    lr_until = 0.01 * 0.5 ** (until // 4)
    g = grads[until]["enc.weight"]
    assert g is not None
    g = g + 0.05 * init["enc.weight"]
    assert_close(snaps[until + 1]["enc.weight"], init["enc.weight"] - lr_until * g / (np.abs(g) + 1e-8), 1e-13)
    # torch: grad None before `until`, lr set per update from the schedule formula
    torch_grads = [{**gs, "enc.weight": None} if t < until else gs for t, gs in enumerate(grads)]
    lr_fn: Callable[[int], float] = lambda t: 0.01 * 0.5 ** (t // 4)  # noqa: E731
    expected, _, _ = torch_run(
        torch.optim.Adam,
        [(["enc.weight"], {"weight_decay": 0.05}), (["head.weight"], {"weight_decay": 0.05})],
        init,
        torch_grads,
        lr_fns=[lr_fn, lr_fn],
    )
    assert_trajectories(snaps, expected)
    opt = R.ReferenceOptimizer(plan, init)
    for gs in grads:
        opt.step(gs)
    enc_state = opt.state("enc.weight")
    assert enc_state is not None and enc_state.step == steps - until


def test_freeze_until_adagrad_accumulator_starts_fresh() -> None:
    plan = make_plan(
        {"type": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.5, "lr_decay": 0.1},
        ["w"],
        [{"name": "w", "params": ["w"], "freeze": {"until_step": 3}}],
    )
    gs = [1.0, 2.0, 3.0, 0.5, -1.0]
    snaps = R.simulate(plan, {"w": np.array([1.0])}, [{"w": np.array([g])} for g in gs])
    p, acc, expected = 1.0, 0.5, []
    for s, g in enumerate(gs[3:], start=1):
        acc += g * g
        p -= 0.1 / (1 + (s - 1) * 0.1) * g / (math.sqrt(acc) + 1e-10)
        expected.append(p)
    assert [float(x["w"][0]) for x in snaps[:4]] == [1.0] * 4
    assert_close(np.array([float(x["w"][0]) for x in snaps[4:]]), expected, 1e-14)


def test_layer_decay_scales_lr_by_depth() -> None:
    names = ["emb.w", "blocks.0.w", "blocks.1.w", "head.w"]
    plan = make_plan(
        {"type": "sgd", "lr": 0.1},
        names,
        layer_decay={"rate": 0.5, "layers": ["emb.*", "blocks.{i}.*", "head.*"]},
    )
    snaps = R.simulate(plan, {n: np.zeros(2) for n in names}, [{n: np.ones(2) for n in names}])
    for depth, name in enumerate(names):  # D = 4 layers: lr * rate ** (D - 1 - d)
        assert_close(-snaps[1][name], np.full(2, 0.1 * 0.5 ** (3 - depth)), 1e-15)


def test_skipped_gradients_match_torch_grad_none() -> None:
    torch = pytest.importorskip("torch")
    shapes = {"a": (4,), "b": (2, 2)}
    init, grads = random_problem(shapes, steps=12, seed=11)
    grads[2] = {"a": grads[2]["a"]}  # b missing
    grads[3] = {"a": grads[3]["a"], "b": None}  # b None
    grads[7] = {"a": None, "b": grads[7]["b"]}
    grads[8] = {}
    plan = make_plan({"type": "adam", "lr": 0.05, "amsgrad": True}, shapes)
    snaps = R.simulate(plan, init, grads)
    assert np.array_equal(snaps[3]["b"], snaps[2]["b"]) and np.array_equal(snaps[4]["b"], snaps[2]["b"])
    assert np.array_equal(snaps[9]["a"], snaps[7]["a"])
    expected, _, _ = torch_run(torch.optim.Adam, [(list(shapes), {"lr": 0.05, "amsgrad": True})], init, grads)
    assert_trajectories(snaps, expected)


def test_skipped_gradient_leaves_sgd_momentum_untouched() -> None:
    plan = make_plan({"type": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}, ["w"])
    g1, g2 = {"w": np.array([1.0])}, {"w": np.array([-2.0])}
    with_skip = R.simulate(plan, {"w": [0.5]}, [g1, {"w": None}, {}, g2])
    # b1 = g1 + wd p0, p1 = p0 - lr b1; b2 = mu b1 + g2 + wd p1, p2 = p1 - lr b2
    p0 = 0.5
    b1 = 1.0 + 0.1 * p0
    p1 = p0 - 0.1 * b1
    b2 = 0.9 * b1 + (-2.0 + 0.1 * p1)
    p2 = p1 - 0.1 * b2
    assert [float(s["w"][0]) for s in with_skip[1:3]] == [p1, p1]
    assert with_skip[4]["w"][0] == pytest.approx(p2, rel=1e-14)


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------


@pytest.fixture
def small_plan() -> lrspec.Plan:
    return make_plan({"type": "sgd", "lr": 0.1}, {"enc.weight": (2, 3), "head.bias": (3,)})


def _init() -> dict[str, np.ndarray]:
    return {"enc.weight": np.zeros((2, 3)), "head.bias": np.zeros(3)}


def test_error_unknown_gradient_name(small_plan: lrspec.Plan) -> None:
    with pytest.raises(ValueError, match=r"update 1 .*'enc.wieght'"):
        R.simulate(small_plan, _init(), [{}, {"enc.wieght": np.zeros((2, 3))}])


def test_error_missing_and_extra_initial_params(small_plan: lrspec.Plan) -> None:
    with pytest.raises(lrspec.ResolveError, match=r"no value for parameter 'head\.bias'"):
        R.simulate(small_plan, {"enc.weight": np.zeros((2, 3))}, [])
    with pytest.raises(ValueError, match="'extra'"):
        R.simulate(small_plan, {**_init(), "extra": np.zeros(1)}, [])


def test_error_shape_mismatches(small_plan: lrspec.Plan) -> None:
    with pytest.raises(ValueError, match=r"'enc.weight' has shape \(3, 2\)"):
        R.simulate(small_plan, {**_init(), "enc.weight": np.zeros((3, 2))}, [])
    with pytest.raises(ValueError, match=r"gradient at update 0 for 'head.bias' has shape \(4,\)"):
        R.simulate(small_plan, _init(), [{"head.bias": np.zeros(4)}])
    # a plan without shapes still checks gradients against the initial values
    plan = make_plan({"type": "sgd", "lr": 0.1}, ["w"])
    with pytest.raises(ValueError, match="'w'"):
        R.simulate(plan, {"w": np.zeros(2)}, [{"w": np.zeros((2, 1))}])
    with pytest.raises(ValueError, match="not a parameter"):
        R.ReferenceOptimizer(plan, {"w": np.zeros(2)}).state("v")


def test_import_lrspec_does_not_import_frameworks() -> None:
    code = "import sys, lrspec, lrspec.reference; assert not {'torch', 'tensorflow', 'keras'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_adagrad_per_group_initial_accumulator_value() -> None:
    """Each group's accumulator starts at its own value. torch.optim.Adagrad reads the value
    from its constructor only, so the torch run below sets state["sum"] by hand."""
    torch = pytest.importorskip("torch")
    shapes = {"a": (3,), "b": (2,)}
    plan = make_plan(
        {"type": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.1},
        shapes,
        [{"name": "b", "params": ["b"], "initial_accumulator_value": 2.0, "lr_decay": 0.2}],
    )
    init, grads = random_problem(shapes, steps=15, seed=13)
    snaps = R.simulate(plan, init, grads)
    tensors = {n: torch.tensor(v, requires_grad=True) for n, v in init.items()}
    opt = torch.optim.Adagrad(
        [{"params": [tensors["a"]]}, {"params": [tensors["b"]], "lr_decay": 0.2}],
        lr=0.1,
        initial_accumulator_value=0.1,
        foreach=False,
    )
    opt.state[tensors["b"]]["sum"].fill_(2.0)
    for k, gs in enumerate(grads, start=1):
        for n, x in tensors.items():
            x.grad = torch.tensor(gs[n])
        opt.step()
        for n, x in tensors.items():
            assert_close(snaps[k][n], x.detach().numpy())
    # the value really matters: with b's accumulator at 0.1 the trajectory differs
    other = make_plan(
        {"type": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.1},
        shapes,
        [{"name": "b", "params": ["b"], "lr_decay": 0.2}],
    )
    assert not np.allclose(R.simulate(other, init, grads)[-1]["b"], snaps[-1]["b"])


def test_every_plan_hyperparameter_is_accepted_by_update() -> None:
    """Defaults of every family, as the plan carries them, go straight into update()."""
    for family, names in lrspec.spec.FAMILY_HYPERPARAMETERS.items():
        shape = (1, 2) if family == "muon" else (2,)  # muon takes only matrices
        plan = make_plan({"type": family, "lr": 0.1}, {"w": shape})
        hyper = plan.groups[0].hyperparameters
        assert set(hyper) == set(names)
        state = R.init_state(family, np.ones(shape), hyper)
        new = R.update(family, np.ones(shape), np.ones(shape), state, lr=0.1, weight_decay=0.0, hyperparameters=hyper)
        assert np.all(new < 1.0), family
