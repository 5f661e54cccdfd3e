"""Class: the emitted module differs from the library. For every family and every
non-default hyperparameter (plus a freeze-until and a schedule), the module that
``--emit python`` generates applies the same updates as ``lrspec.compile`` with the same
gradients (torch: bit for bit with torch's for-loop kernels; tf: the tf target's optimizer)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import lrspec
from lrspec.tools.emit import emit_python

STEPS = 4

#: (family, optimizer settings): every non-default hyperparameter of every family
CASES: list[tuple[str, dict[str, Any]]] = [
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"weight_decay": 0.1}),
    ("adam", {"betas": [0.8, 0.9]}),
    ("adam", {"eps": 1e-3}),
    ("adam", {"amsgrad": True}),
    ("adam", {"weight_decay": 0.1}),
    ("adamw", {"betas": [0.8, 0.9]}),
    ("adamw", {"eps": 1e-3}),
    ("adamw", {"amsgrad": True}),
    ("adamw", {"weight_decay": 0.3}),
    ("rmsprop", {"alpha": 0.5}),
    ("rmsprop", {"eps": 1e-3}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}),
    ("adagrad", {"lr_decay": 0.1}),
    ("adagrad", {"eps": 1e-3}),
    ("adagrad", {"initial_accumulator_value": 0.1}),
    ("adagrad", {"weight_decay": 0.1}),
]


def _spec(family: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Optimizer-level settings, a group overriding one of them (so groups differ), a
    freeze-until group and a schedule."""
    override = {k: v for k, v in settings.items() if isinstance(v, float) and k != "weight_decay"}
    group_setting = {k: v * 0.5 for k, v in override.items()}
    return {
        "version": 1,
        "optimizer": {"type": family, "lr": 0.05, **settings},
        "schedule": {"type": "step", "step_size": 2, "gamma": 0.5},
        "groups": [
            {"name": "first", "params": ["0.*"], "lr_mult": 0.5, **group_setting},
            {"name": "late", "params": ["2.bias"], "freeze": {"until_step": 2}},
        ],
    }


IDS = [f"{f}-{'-'.join(f'{k}={v}' for k, v in s.items())}" for f, s in CASES]


def _load(source: str, name: str, tmp_path: Path) -> types.ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.torch
@pytest.mark.parametrize(("family", "settings"), CASES, ids=IDS)
def test_emitted_torch_module_equals_compile(family: str, settings: dict[str, Any], tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from lrspec_torch.emit import TORCH_CLASSES

    def model() -> Any:
        torch.manual_seed(1)
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))

    spec = _spec(family, settings)
    model_a, model_b = model(), model()
    plan = lrspec.resolve(lrspec.Spec.model_validate(spec), {n: tuple(p.shape) for n, p in model_a.named_parameters()})
    gen = _load(emit_python(plan, "torch"), f"gen_torch_{family}", tmp_path)
    opt_a, sched_a = gen.build(model_a)
    takes_fused = "fused" in inspect.signature(getattr(torch.optim, TORCH_CLASSES[family])).parameters
    compiled = lrspec.compile(spec, model_b, target="torch", foreach=False, **({"fused": False} if takes_fused else {}))
    named_a, named_b = dict(model_a.named_parameters()), dict(model_b.named_parameters())
    initial = {n: p.detach().clone() for n, p in named_a.items()}
    rng = torch.Generator().manual_seed(0)
    for t in range(STEPS):
        for name, pa in named_a.items():
            grad = torch.randn(pa.shape, generator=rng)
            pa.grad = grad.clone() if pa.requires_grad else None
            named_b[name].grad = grad.clone() if named_b[name].requires_grad else None
        opt_a.step()
        sched_a.step()
        compiled.optimizer.step()
        compiled.scheduler.step()
        for name, pa in named_a.items():
            torch.testing.assert_close(pa, named_b[name], rtol=0, atol=0, msg=lambda m, n=name, t=t: f"t={t} {n}: {m}")
    assert not torch.equal(named_a["2.bias"], initial["2.bias"])  # the freeze-until group trained after 2
    assert all(not torch.equal(p, initial[n]) for n, p in named_a.items())


@pytest.mark.tf
@pytest.mark.slow
def test_emitted_keras_module_equals_the_tf_target(tmp_path: Path) -> None:
    pytest.importorskip("lrspec_tf.rules")
    import keras
    import numpy as np
    import tensorflow as tf

    def model() -> Any:
        keras.utils.set_random_seed(1)
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="a"), keras.layers.Dense(2, name="b")])
        return net

    for k, (family, settings) in enumerate(CASES):
        spec = _spec(family, settings)
        spec["groups"] = [
            {"name": "first", "params": ["*a.kernel"], "lr_mult": 0.5},
            {"name": "late", "params": ["*b.bias"], "freeze": {"until_step": 2}},
        ]
        model_a, model_b = model(), model()
        compiled = lrspec.compile(spec, model_b, target="tf")
        gen = _load(emit_python(compiled.plan, "tf"), f"gen_tf_{k}", tmp_path)
        opt_a = gen.build(model_a)
        vars_a, vars_b = list(model_a.trainable_variables), list(model_b.trainable_variables)
        initial = [v.numpy().copy() for v in vars_a]
        rng = np.random.default_rng(0)
        for t in range(STEPS):
            grads = [rng.standard_normal(v.shape).astype(np.float32) for v in vars_a]
            opt_a.apply_gradients(zip([tf.constant(g) for g in grads], vars_a))
            compiled.optimizer.apply_gradients(zip([tf.constant(g) for g in grads], vars_b))
            for va, vb in zip(vars_a, vars_b):
                np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-6, atol=1e-8, err_msg=f"{IDS[k]} t={t} {va.path}")
        assert all(not np.array_equal(v.numpy(), v0) for v, v0 in zip(vars_a, initial)), IDS[k]
