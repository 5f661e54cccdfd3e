"""Helpers of the reference-family tests: run the reference rules and the stock torch.optim
class side by side in float64 (single-tensor path), and compare."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from lrspec import reference as R

Snapshots = list[dict[str, np.ndarray]]
LrFn = Callable[[int], float]


def random_problem(
    shapes: Mapping[str, tuple[int, ...]], steps: int, seed: int = 0, grad_scale: float = 1.0
) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    init = {n: rng.normal(size=s) for n, s in shapes.items()}
    grads = [{n: grad_scale * rng.normal(size=s) for n, s in shapes.items()} for _ in range(steps)]
    return init, grads


def decaying_lr(lr: float) -> LrFn:
    """lr at update t: ``lr * (1 - 0.02 t)`` (the lr changes every update)."""
    return lambda t: lr * (1 - 0.02 * t)


def reference_run(
    family: str,
    hyper: Mapping[str, Any],
    weight_decay: float,
    lr_fn: LrFn,
    init: Mapping[str, np.ndarray],
    grads: Sequence[Mapping[str, np.ndarray]],
    run_dtype: str = "float64",
) -> tuple[Snapshots, dict[str, R.OptimizerState]]:
    """The reference's :func:`lrspec.reference.update`, every parameter every update."""
    params = {n: np.array(v, dtype=np.float64) for n, v in init.items()}
    states = {n: R.init_state(family, p, hyper) for n, p in params.items()}
    snaps = [{n: p.copy() for n, p in params.items()}]
    for t, gs in enumerate(grads):
        for n in params:
            params[n] = R.update(
                family,
                params[n],
                np.asarray(gs[n], dtype=np.float64),
                states[n],
                lr=lr_fn(t),
                weight_decay=weight_decay,
                hyperparameters=hyper,
                run_dtype=run_dtype,
            )
        snaps.append({n: p.copy() for n, p in params.items()})
    return snaps, states


def torch_run(
    torch: Any,
    opt_cls: Any,
    kwargs: Mapping[str, Any],
    lr_fn: LrFn,
    init: Mapping[str, np.ndarray],
    grads: Sequence[Mapping[str, np.ndarray]],
) -> tuple[Snapshots, Any, dict[str, Any]]:
    """The stock torch class in float64 (``foreach=False`` where it has the option)."""
    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in init.items()}
    extra = {} if opt_cls is torch.optim.Muon else {"foreach": False}
    opt = opt_cls(list(tensors.values()), lr=lr_fn(0), **kwargs, **extra)

    def snap() -> dict[str, np.ndarray]:
        return {n: x.detach().numpy().copy() for n, x in tensors.items()}

    snaps = [snap()]
    for t, gs in enumerate(grads):
        for pg in opt.param_groups:
            pg["lr"] = lr_fn(t)
        for n, x in tensors.items():
            x.grad = torch.tensor(gs[n], dtype=torch.float64)
        opt.step()
        snaps.append(snap())
    return snaps, opt, tensors


def assert_close(actual: npt.ArrayLike, expected: npt.ArrayLike, rel: float = 1e-12) -> None:
    """|actual - expected| <= rel * (|expected| + max|expected|), elementwise."""
    want = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), want, rtol=rel, atol=rel * scale)


def assert_trajectories(ref: Snapshots, expected: Snapshots, rel: float = 1e-12) -> None:
    assert len(ref) == len(expected)
    for k, (a, b) in enumerate(zip(ref, expected, strict=True)):
        assert a.keys() == b.keys()
        for n in a:
            assert not np.array_equal(a[n], ref[0][n]) or k == 0, f"{n!r} did not move at snapshot {k}"
            try:
                assert_close(a[n], b[n], rel)
            except AssertionError as exc:
                raise AssertionError(f"snapshot {k}, parameter {n!r}: {exc}") from None


def assert_states_match(
    states: Mapping[str, R.OptimizerState], opt: Any, tensors: Mapping[str, Any], steps: int, rel: float = 1e-11
) -> None:
    """The reference's buffers carry torch's state names and values."""
    for name, x in tensors.items():
        torch_state = opt.state[x]
        mine = states[name]
        tensor_keys = {k for k, v in torch_state.items() if k != "step" and v is not None}
        assert set(mine.buffers) == tensor_keys, name
        for key, buf in mine.buffers.items():
            assert_close(buf, torch_state[key].numpy(), rel)
        if "step" in torch_state:
            assert mine.step == int(torch_state["step"]) == steps


@contextmanager
def default_dtype(torch: Any, dtype: Any) -> Iterator[None]:
    """torch's default dtype set for the block (NAdam keeps ``mu_product`` in it)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)
