"""The optax target in lrspec's tools: verify, --emit python, model files, example models."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("optax")

import jax
import jax.numpy as jnp
import optax

import lrspec
from lrspec.targets import get_target
from lrspec.tools.model_sources import SourceError

VERIFY_SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "rmsprop", "lr": 1e-3, "momentum": 0.9, "centered": True, "weight_decay": 0.01},
    "schedule": {"type": "exponential", "decay_rate": 0.9, "decay_steps": 5},
    "groups": [
        {"name": "head", "params": ["head.*"], "lr_mult": 5.0},
        {"name": "late", "params": ["enc.*"], "freeze": {"until_step": 4}},
        {"name": "frozen", "params": ["emb"], "freeze": True},
    ],
}
VERIFY_PARAMS = {"enc.w": (6, 3), "enc.b": (3,), "head.w": (3, 2), "emb": (4, 2)}


def test_lrspec_verify_drives_optax() -> None:
    report = lrspec.verify(VERIFY_SPEC, VERIFY_PARAMS, targets=["optax"], steps=30)
    result = report.result("optax")
    assert result.status == "ok", result
    assert all(g.ok for g in result.groups)


def test_verify_driver_protocol() -> None:
    from lrspec.reference import ReferenceOptimizer
    from lrspec.targets import VerifyDriver

    plan = lrspec.resolve(lrspec.as_spec(VERIFY_SPEC), VERIFY_PARAMS)
    rng = np.random.default_rng(0)
    init = {n: rng.standard_normal(s).astype(np.float32) * 0.1 for n, s in VERIFY_PARAMS.items()}
    driver = get_target("optax").verify_driver(plan, init, {"mode": "lrspec"})
    assert isinstance(driver, VerifyDriver)
    ref = ReferenceOptimizer(plan, init)
    for _ in range(10):
        g = {n: rng.standard_normal(s).astype(np.float32) for n, s in VERIFY_PARAMS.items()}
        driver.step(g)
        ref.step(g)
    got = driver.values()
    driver.close()
    for n in VERIFY_PARAMS:
        moved = np.max(np.abs(ref.params[n] - init[n]))
        assert np.max(np.abs(got[n] - ref.params[n])) <= 1e-5 * moved + 1e-7, n
    assert np.array_equal(got["emb"], init["emb"])


HOSTILE = ['a"""b', "c'''d\\", "e\\nf", "g{h}"]


def test_emit_python_is_standalone_and_matches_compile() -> None:
    spec = {
        "version": 1,
        "optimizer": {"type": "adam", "lr": 1e-2, "amsgrad": True, "weight_decay": 0.1},
        "schedule": {"type": "warmup", "steps": 2},
        "groups": [
            {"name": "g-1.x", "params": ["a*"], "freeze": {"until_step": 1}},
            {"name": "frozen", "params": ["g*"], "freeze": True},
        ],
    }
    shapes = {n: (3,) for n in HOSTILE}
    plan = lrspec.resolve(lrspec.as_spec(spec), shapes)
    src = get_target("optax").emit_python(plan, "header")
    tree = ast.parse(src)
    imported = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"jax", "optax", "numpy", "math", "__future__"}, imported
    assert "lrspec" not in {n.split(".")[0] for n in imported}
    ns: dict[str, Any] = {}
    exec(compile(src, "<emitted>", "exec"), ns)
    params = {n: jnp.arange(3.0) + k for k, n in enumerate(HOSTILE)}
    grads = {n: jnp.ones(3) * (k + 1) for k, n in enumerate(HOSTILE)}
    emitted, compiled = ns["build"](), get_target("optax").compile(plan, params).optimizer
    s1, s2 = emitted.init(params), compiled.init(params)
    for _ in range(3):
        u1, s1 = emitted.update(grads, s1, params)
        u2, s2 = compiled.update(grads, s2, params)
        for n in HOSTILE:
            assert np.array_equal(np.asarray(u1[n]), np.asarray(u2[n])), n
    with pytest.raises(ns["CheckpointError"], match="belongs to plan"):
        emitted.update(grads, type(s1)(s1.count, s1.inner, "0" * 16), params)


def test_emit_through_the_tools_entry_point() -> None:
    from lrspec.tools.emit import emit_python, emitting_targets

    plan = lrspec.resolve(lrspec.as_spec({"version": 1, "optimizer": {"type": "sgd", "lr": 0.1}}), {"w": (2,)})
    assert "optax" in emitting_targets()
    ast.parse(emit_python(plan, "optax"))


def test_model_files_npz_and_msgpack(tmp_path: Path) -> None:
    from flax import serialization

    target = get_target("optax")
    np.savez(
        tmp_path / "dots.npz", **{"enc.w": np.zeros((3, 2), np.float32), "enc.b": np.zeros(2), "step": np.int64(3)}
    )
    np.savez(tmp_path / "slash.npz", **{"params/Dense_0/kernel": np.zeros((4, 5), np.float32)})
    assert target.reads_model_file(str(tmp_path / "dots.npz"))
    assert target.read_model_file(str(tmp_path / "dots.npz")) == {"enc.w": (3, 2), "enc.b": (2,)}
    assert target.read_model_file(str(tmp_path / "slash.npz")) == {"params.Dense_0.kernel": (4, 5)}
    tree = {"params": {"Dense_0": {"kernel": np.ones((2, 3), np.float32), "bias": np.ones(3, np.float32)}}}
    (tmp_path / "m.msgpack").write_bytes(serialization.msgpack_serialize(tree))
    assert target.read_model_file(str(tmp_path / "m.msgpack")) == {
        "params.Dense_0.kernel": (2, 3),
        "params.Dense_0.bias": (3,),
    }
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    (tmp_path / "bad.msgpack").write_bytes(b"\xc1\xc1")
    for bad in ("bad.npz", "bad.msgpack", "missing.npz"):
        with pytest.raises(SourceError, match=r"bad|no such file|missing"):
            target.read_model_file(str(tmp_path / bad))


def test_example_models_mirror_the_torch_names() -> None:
    examples = get_target("optax").example_models()
    assert set(examples) == {"mnist_cnn", "convnet6", "lenet", "transformer"}
    target = get_target("optax")
    names = list(target.parameters(examples["convnet6"](seed=0)))
    assert names == [
        f"{layer}.{leaf}"
        for layer in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6")
        for leaf in ("bias", "kernel")
    ]
    llrd = Path(__file__).resolve().parents[2] / "examples" / "transformer_llrd.yaml"
    params = examples["transformer"](seed=0)
    compiled = lrspec.compile(str(llrd), params, target="optax")
    assert compiled.plan.param("blocks.3.fc1.kernel").layer is not None
    state = compiled.optimizer.init(params)
    update = jax.jit(compiled.optimizer.update)
    ones = jax.tree.map(jnp.ones_like, params)
    u, state = update(ones, state, params)  # warmup starts at lr 0
    assert float(optax.tree.norm(u)) == 0.0
    u, state = update(ones, state, params)
    assert jax.tree.structure(u) == jax.tree.structure(params)
    # layer decay 0.75 over embed, blocks.0-3, head: block 3 gets 0.75 of head's lr (adamw: |step| ~ lr)
    ratio = np.asarray(u["blocks"][3]["fc1"]["bias"]).mean() / np.asarray(u["head"]["bias"]).mean()
    np.testing.assert_allclose(ratio, 0.75, rtol=1e-3)
