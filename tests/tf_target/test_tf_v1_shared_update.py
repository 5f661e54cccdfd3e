"""tf-v1 and the Keras optimizers share one per-variable update and one gradient-scale helper."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from lrspec_tf import rules
from lrspec_tf.gradient_scale import gradient_multiplier, lr_and_gradient_multiplier, scale_gradient

import lrspec

SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.01, "weight_decay": 0.1},
    "groups": [{"name": "late", "params": ["b"], "freeze": {"until_step": 2}, "lr_mult": 0.5}],
}


def test_lr_and_gradient_multiplier() -> None:
    assert lr_and_gradient_multiplier("multiplier", 0.05, 0.1) == (0.05, 1.0)
    assert lr_and_gradient_multiplier("gradient-scale", 0.05, 0.1) == (0.1, 0.05 / 0.1)
    assert gradient_multiplier(0.05, 0.1) == 0.05 / 0.1
    g = tf.constant([1.0, -2.0])
    assert scale_gradient(g, 1.0) is g
    np.testing.assert_array_equal(scale_gradient(g, 0.5).numpy(), [0.5, -1.0])


def test_v1_uses_rules_update_variable_and_matches_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = rules.update_variable

    def spy(family: str, variable: Any, *args: Any) -> Any:
        calls.append(variable.name)
        return original(family, variable, *args)

    monkeypatch.setattr(rules, "update_variable", spy)
    rng = np.random.default_rng(0)
    init = {"a": rng.normal(size=3).astype(np.float32), "b": rng.normal(size=3).astype(np.float32)}
    grads = [{n: rng.normal(size=3).astype(np.float32) for n in init} for _ in range(5)]
    variables = [tf.Variable(v, name=n) for n, v in init.items()]
    compiled = lrspec.compile(SPEC, variables, target="tf-v1")
    for g in grads:
        compiled.apply_gradients([(tf.constant(g[v.name[:-2]]), v) for v in variables])
    assert sorted(set(calls)) == ["a:0", "b:0"] and len(calls) == 2 * len(grads)
    ref = lrspec.reference.simulate(compiled.plan, init, grads)[-1]
    for v in variables:
        n = v.name[:-2]
        disp = np.abs(ref[n] - init[n]).max()
        assert np.abs(v.numpy() - ref[n]).max() <= 1e-5 * disp
