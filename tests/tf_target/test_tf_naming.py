"""The TF targets' one naming rule (lrspec_tf._common): layer-tree names for Keras models."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from lrspec_tf.keras_optimizers import TorchSGD  # noqa: E402

import lrspec  # noqa: E402
from lrspec.errors import TargetError  # noqa: E402

L = keras.layers


def _names(model: Any) -> list[str]:
    return list(lrspec.get_target("tf").parameters(model))


def test_sequential_names_drop_the_model_scope_like_functional_ones() -> None:
    seq = keras.Sequential([keras.Input((3,)), L.Dense(2, name="body")], name="mlp")
    assert [v.path for v in seq.trainable_variables] == ["mlp/body/kernel", "mlp/body/bias"]
    assert _names(seq) == ["body.kernel", "body.bias"]
    inner = keras.Sequential([L.Dense(2, name="0")], name="features")
    outer = keras.Sequential([keras.Input((3,)), inner, L.Dense(1, name="head")], name="outer")
    assert _names(outer) == ["features.0.kernel", "features.0.bias", "head.kernel", "head.bias"]
    inp = keras.Input((3,))
    functional = keras.Model(inp, L.Dense(1, name="head")(L.Dense(2, name="enc")(inp)), name="net")
    assert _names(functional) == ["enc.kernel", "enc.bias", "head.kernel", "head.bias"]


def test_variables_keep_their_path_names() -> None:
    assert _names([keras.Variable(np.zeros(2, np.float32), name="a.b")]) == ["a.b"]
    assert _names([tf.Variable([1.0], name="scope/w")]) == ["scope.w"]


def test_an_optimizer_built_without_names_matches_path_names_to_the_plan() -> None:
    seq = keras.Sequential([keras.Input((3,)), L.Dense(2, name="body"), L.Dense(1, name="head")], name="mlp")
    plan = lrspec.resolve(lrspec.validate({"version": 1, "optimizer": {"type": "sgd", "lr": 0.1},
                                           "groups": [{"name": "h", "params": ["head.*"], "lr": 0.5}]}), _names(seq))
    opt = TorchSGD(list(plan.groups))
    opt.build(seq.trainable_variables)  # what model.compile(optimizer=TorchSGD(...)) + fit does
    assert dict(opt.describe_variables()) == {"body.kernel": "default", "body.bias": "default",
                                              "head.kernel": "h", "head.bias": "h"}
    other = TorchSGD(list(plan.groups))
    with pytest.raises(TargetError, match="is not in the plan"):
        other.build([keras.Variable(np.zeros(2, np.float32), name="x")])


def test_import_lrspec_tf_imports_no_framework() -> None:
    code = "import sys, lrspec_tf; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
