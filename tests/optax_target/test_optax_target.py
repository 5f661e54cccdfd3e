"""The optax target in float32 (this process keeps jax_enable_x64 off): naming, compile
checks, freezes, the traced schedule clock, jit, checkpoints and fingerprint refusal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("optax")

import jax
import jax.numpy as jnp
import optax

import lrspec
from lrspec.errors import CheckpointError, TargetError
from lrspec.targets import get_target
from tests.optax_target.conftest import SPEC


def names_of(tree: Any) -> list[str]:
    return list(get_target("optax").parameters(tree))


def test_canonical_names_of_common_pytrees() -> None:
    from flax import nnx
    from flax.core import FrozenDict

    x = jnp.zeros((2,))
    assert names_of({"params": {"Dense_0": {"kernel": x, "bias": x}}}) == [
        "params.Dense_0.bias",
        "params.Dense_0.kernel",
    ]
    assert names_of({"layers": [{"w": x}, {"w": x}]}) == ["layers.0.w", "layers.1.w"]
    assert names_of(FrozenDict({"a": {"b": x}})) == ["a.b"]
    assert names_of((x, {"k": x})) == ["0", "1.k"]

    class Model(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.lin = nnx.Linear(2, 3, rngs=rngs)

    state = nnx.state(Model(nnx.Rngs(0)), nnx.Param)
    assert names_of(state) == ["lin.bias", "lin.kernel"]
    assert names_of(nnx.to_pure_dict(state)) == ["lin.bias", "lin.kernel"]
    assert get_target("optax").parameters({"w": jnp.zeros((3, 4))}) == {"w": (3, 4)}


def test_bad_pytrees_are_target_errors() -> None:
    with pytest.raises(TargetError, match="no leaves"):
        names_of({})
    with pytest.raises(TargetError, match="not an array"):
        names_of({"a": 1.0})
    with pytest.raises(TargetError, match=r"canonical name 'a\.b'"):
        names_of({"a": {"b": jnp.zeros(1)}, "a.b": jnp.zeros(1)})


def test_accepts_does_not_import_jax() -> None:
    code = "import sys, lrspec; t = lrspec.get_target('optax'); print(t.accepts({'w': [1.0]}), 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False False"
    t = get_target("optax")
    assert t.accepts({"w": jnp.zeros(2), "v": [jnp.ones(1)]})
    assert not t.accepts({"w": np.zeros(2)}) and not t.accepts({}) and not t.accepts(3)


def test_compile_checks(params: Any) -> None:
    with pytest.raises(TargetError, match=r"unknown optax target option\(s\) 'mod' \(did you mean 'mode'\?\)"):
        lrspec.compile(SPEC, params, target="optax", mod="auto")
    with pytest.raises(TargetError, match=r"mode='optax'.*frozen_until"):
        lrspec.compile(SPEC, params, target="optax", mode="optax")
    compiled = lrspec.compile(SPEC, params, target="optax")
    other = {"enc": params["enc"], "head": params["head"]}
    with pytest.raises(TargetError, match=r"not in the pytree: 'emb\.table'"):
        get_target("optax").compile(compiled.plan, other)
    with pytest.raises(TargetError, match="leaf name"):
        compiled.optimizer.init({"zzz": jnp.zeros(1)})


def _grads(params: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), p.dtype), params)


def test_freezes_zero_updates_no_state_and_fresh_state_at_n(params: Any) -> None:
    compiled = lrspec.compile(SPEC, params, target="optax")
    tx = compiled.optimizer
    state = tx.init(params)
    assert isinstance(state.inner["emb"]["table"], optax.EmptyState)
    assert jax.tree.leaves(state.inner["emb"]) == []
    p = params
    for t in range(5):
        g = _grads(params, t)
        updates, state = tx.update(g, state, p)
        assert np.array_equal(np.asarray(updates["emb"]["table"]), np.zeros((5, 2)))
        late = state.inner["enc"]["b"]
        if t < 3:
            assert np.array_equal(np.asarray(updates["enc"]["b"]), np.zeros(3))
            assert not np.any(np.asarray(late["exp_avg"])) and not np.any(np.asarray(late["exp_avg_sq"]))
        if t == 3:
            # first update of the late group: Adam's bias correction counts from 1, so the step is
            # lr * g / (|g| + eps) (p = 0: no weight decay term), with lr of the running clock t = 3
            lr = 1e-2 * 0.5 * (1 + np.cos(np.pi * 3 / 50))
            gb = np.asarray(g["enc"]["b"], np.float64)
            np.testing.assert_allclose(np.asarray(updates["enc"]["b"]), -lr * gb / (np.abs(gb) + 1e-8), rtol=1e-5)
        p = optax.apply_updates(p, updates)
    assert np.array_equal(np.asarray(p["emb"]["table"]), np.asarray(params["emb"]["table"]))
    assert int(state.count) == 5


def test_jit_traces_once_and_lr_follows_the_traced_count() -> None:
    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1},
        "schedule": {"type": "step", "step_size": 10**8, "gamma": 0.5},
    }
    params = {"w": jnp.ones((3,))}
    compiled = lrspec.compile(spec, params, target="optax")
    tx = compiled.optimizer
    traces = []

    @jax.jit
    def step(p: Any, s: Any, g: Any) -> Any:
        traces.append(1)
        u, s = tx.update(g, s, p)
        return u, s

    state = tx.init(params)
    g = {"w": jnp.ones((3,))}
    for _ in range(4):
        u, state = step(params, state, g)
    assert len(traces) == 1
    for t in (7, 10**8 - 1, 10**8, 10**9):
        state = type(state)(jnp.asarray(t, jnp.int32), state.inner, state.fingerprint)
        u, state = step(params, state, g)
        np.testing.assert_allclose(np.asarray(u["w"]), -compiled.plan.lr("w", t), rtol=1e-6)
        assert int(state.count) == t + 1
    assert len(traces) == 1


def test_schedules_float32_match_lrspec_schedules() -> None:
    from lrspec_optax._schedules import schedule_from_dict

    from lrspec import schedules
    from lrspec.spec.models import Spec
    from tests.optax_target.matrix import SCHEDULES, TIMES

    for node in SCHEDULES:
        model = Spec.model_validate({"version": 1, "optimizer": {"type": "sgd", "lr": 0.1}, "schedule": node}).schedule
        ref, fn = schedules.from_spec(model), jax.jit(schedule_from_dict(model.model_dump(mode="json")))
        for t in TIMES:
            got = fn(jnp.asarray(t, jnp.int32))
            assert got.dtype == jnp.float32
            want = ref(t)
            assert abs(float(got) - want) <= 1e-4 * abs(want) + 1e-7, (node, t, float(got), want)


def test_state_round_trip_and_fingerprint_refusal(params: Any, tmp_path: Path) -> None:
    compiled = lrspec.compile(SPEC, params, target="optax")
    tx = compiled.optimizer
    step = jax.jit(lambda p, s, g: (lambda u, s2: (optax.apply_updates(p, u), s2))(*tx.update(g, s, p)))
    p, state = params, tx.init(params)
    for t in range(4):
        p, state = step(p, state, _grads(params, t))
    compiled.save_state(tmp_path / "opt.npz", state)
    loaded = compiled.load_state(tmp_path / "opt.npz")
    assert jax.tree.structure(loaded) == jax.tree.structure(state)
    a, b = step(p, state, _grads(params, 9)), step(p, loaded, _grads(params, 9))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert np.array_equal(np.asarray(x), np.asarray(y))

    other_spec = dict(SPEC, optimizer={"type": "adam", "lr": 2e-2, "weight_decay": 0.01})
    other = lrspec.compile(other_spec, params, target="optax")
    fp, ofp = compiled.plan.fingerprint, other.plan.fingerprint
    with pytest.raises(CheckpointError, match=f"belongs to plan {fp}, not to this plan {ofp}"):
        other.load_state(tmp_path / "opt.npz")
    with pytest.raises(CheckpointError, match=f"belongs to plan {fp}, not to this plan {ofp}"):
        other.optimizer.update(_grads(params, 0), state, params)
    with pytest.raises(CheckpointError, match=f"belongs to plan {fp}, not to this plan {ofp}"):
        jax.jit(other.optimizer.update)(_grads(params, 0), state, params)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot read"):
        compiled.load_state(tmp_path / "bad.npz")


def test_chains_with_other_transforms_and_describe(params: Any) -> None:
    compiled = lrspec.compile(SPEC, params, target="optax")
    tx = optax.chain(optax.clip_by_global_norm(1.0), compiled.optimizer)
    state = tx.init(params)
    updates, state = jax.jit(tx.update)(_grads(params, 0), state, params)
    assert np.array_equal(np.asarray(updates["emb"]["table"]), np.zeros((5, 2)))
    assert compiled.lrs(0) == {"default": 1e-2, "frozen": 0.0, "head": 3e-2, "late": 0.0}
    text = compiled.describe(t=3)
    assert "adam via lrspec rule (frozen_until needs per-leaf step counts)" in text
    assert "lr@3" in text and "late" in text


def test_nnx_optimizer_drives_the_transformation() -> None:
    from flax import nnx

    class Model(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.body = nnx.Linear(3, 4, rngs=rngs)
            self.head = nnx.Linear(4, 2, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            return self.head(jax.nn.relu(self.body(x)))

    model = Model(nnx.Rngs(0))
    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
        "groups": [{"name": "body", "params": ["body.*"], "freeze": True}],
    }
    before = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    compiled = lrspec.compile(spec, nnx.state(model, nnx.Param), target="optax")
    opt = nnx.Optimizer(model, compiled.optimizer, wrt=nnx.Param)
    x = jnp.ones((5, 3))
    grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
    opt.update(model, grads)
    after = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    g = nnx.to_pure_dict(grads)
    assert np.array_equal(np.asarray(after["body"]["kernel"]), np.asarray(before["body"]["kernel"]))
    np.testing.assert_allclose(
        np.asarray(after["head"]["kernel"]),
        np.asarray(before["head"]["kernel"]) - 0.1 * np.asarray(g["head"]["kernel"]),
        rtol=1e-6,
    )
