"""``KerasTarget.parameters(model)``: name -> ParamMeta(shape, ModuleInfo) (contract K4).

The owning layer is the one whose own weights hold the variable (through nested Sequentials and
MultiHeadAttention's EinsumDense sublayers); classes are its MRO names; roles per
lrspec.resolve.params.ROLES (depthwise conv: DepthwiseConv*, or groups == input channels > 1).
The ``modules`` selector then reaches compile: norm variables get weight decay 0, checked on one
float64 update against lrspec.reference and against adamw's first-update formula.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

import lrspec  # noqa: E402
from lrspec.reference import ReferenceOptimizer  # noqa: E402
from lrspec.resolve.params import ModuleInfo, ParamMeta  # noqa: E402


class MyRMSNorm(layers.Layer):  # type: ignore[misc]
    """A user's norm layer: not a Keras norm class, but its name says Norm."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale", dtype=self.dtype)

    def call(self, x: Any) -> Any:
        return x * self.scale


class MyConv(layers.Conv2D):  # type: ignore[misc]
    """A subclass of a Keras conv."""


def build_model() -> Any:
    f64: dict[str, Any] = {"dtype": "float64"}
    inner = keras.Sequential(
        [layers.Dense(4, name="d1", **f64), layers.LayerNormalization(name="ln", **f64)], name="inner"
    )
    img = keras.Input((6, 6, 3), name="img", dtype="float64")
    tok = keras.Input((5,), dtype="int32", name="tok")
    x = layers.Conv2D(4, 3, name="stem", **f64)(img)
    x = layers.DepthwiseConv2D(3, name="dw", **f64)(x)
    x = layers.Conv2D(4, 1, groups=4, name="gconv", **f64)(x)  # groups == input channels: depthwise
    x = MyConv(8, 1, groups=2, name="grouped", **f64)(x)  # groups 2 != 4 input channels
    x = layers.BatchNormalization(name="bn", **f64)(x)
    x = inner(layers.GlobalAveragePooling2D(**f64)(x))
    e = layers.Embedding(10, 4, name="emb", **f64)(tok)
    a = layers.MultiHeadAttention(2, 2, name="mha", **f64)(e, e)
    a = MyRMSNorm(name="rms", **f64)(layers.GlobalAveragePooling1D(**f64)(a))
    out = layers.Dense(3, name="head", **f64)(layers.Concatenate(**f64)([x, a]))
    return keras.Model([img, tok], out, name="net")


@pytest.fixture(scope="module")
def model() -> Any:
    return build_model()


@pytest.fixture(scope="module")
def listed(model: Any) -> dict[str, Any]:
    return dict(lrspec.get_target("keras").parameters(model))


def test_names_order_and_shapes_as_the_shapes_listing(model: Any, listed: dict[str, Any]) -> None:
    from lrspec_keras.builder import param_shapes

    shapes = param_shapes(model)
    assert list(listed) == list(shapes)
    assert list(listed)[:4] == ["stem.kernel", "stem.bias", "dw.kernel", "dw.bias"]
    for n, v in zip(shapes, model.trainable_variables, strict=True):
        assert isinstance(listed[n], ParamMeta) and listed[n].shape == tuple(v.shape), n


@pytest.mark.parametrize(
    ("name", "type_", "roles"),
    [
        ("stem.kernel", "Conv2D", {"conv"}),
        ("dw.kernel", "DepthwiseConv2D", {"conv", "depthwise_conv"}),
        ("gconv.kernel", "Conv2D", {"conv", "depthwise_conv"}),
        ("grouped.bias", "MyConv", {"conv"}),
        ("bn.gamma", "BatchNormalization", {"norm"}),
        ("inner.d1.kernel", "Dense", {"linear"}),  # inside the nested Sequential
        ("inner.ln.beta", "LayerNormalization", {"norm"}),
        ("emb.embeddings", "Embedding", {"embedding"}),
        ("mha.query.kernel", "EinsumDense", {"linear"}),  # MultiHeadAttention's sublayer owns it
        ("mha.attention_output.bias", "EinsumDense", {"linear"}),
        ("rms.scale", "MyRMSNorm", {"norm"}),
        ("head.kernel", "Dense", {"linear"}),
    ],
)
def test_owning_layer_and_roles(listed: dict[str, Any], name: str, type_: str, roles: set[str]) -> None:
    info = listed[name].module
    assert isinstance(info, ModuleInfo)
    assert info.type == type_ and info.roles == frozenset(roles)
    assert info.classes[0] == type_ and "Layer" in info.classes and "object" not in info.classes


def test_classes_are_the_mro(listed: dict[str, Any]) -> None:
    assert listed["grouped.kernel"].module.classes[:4] == ("MyConv", "Conv2D", "BaseConv", "Layer")
    dw = listed["dw.kernel"].module.classes
    assert dw.index("DepthwiseConv2D") < dw.index("Layer") < dw.index("Operation")
    assert listed["mha.key.kernel"].module is listed["mha.value.kernel"].module  # cached per class


def test_a_layer_as_root_and_bare_variables() -> None:
    dense = layers.Dense(2, name="solo")
    dense.build((3,))
    target = lrspec.get_target("keras")
    got: dict[str, Any] = dict(target.parameters(dense))  # the root layer owns its variables
    assert list(got) == ["kernel", "bias"] and got["kernel"].shape == (3, 2)
    assert {v.module.type for v in got.values()} == {"Dense"} and got["bias"].module.roles == {"linear"}
    w = keras.Variable(np.zeros((2, 3)), name="w")
    assert target.parameters([w]) == {"w": (2, 3)}  # no layers to describe: shapes only


NORMS = {"bn.gamma", "bn.beta", "inner.ln.gamma", "inner.ln.beta", "rms.scale"}


def test_norm_selector_gives_norms_no_weight_decay(model: Any) -> None:
    lr, wd, eps = 0.01, 0.1, 1e-8
    spec = {
        "version": 1,
        "optimizer": {"type": "adamw", "lr": lr, "weight_decay": wd, "eps": eps},
        "groups": [
            {"name": "norms", "params": ["*"], "modules": ["norm"], "weight_decay": 0},
            {"name": "dw", "params": ["*"], "modules": ["depthwise_conv"], "lr_mult": 0.5},
        ],
    }
    compiled = lrspec.compile(spec, model, target="keras")
    plan = compiled.plan
    groups = {g.name: g for g in plan.groups}
    assert set(groups["norms"].params) == NORMS and groups["norms"].weight_decay == 0
    assert set(groups["dw"].params) == {f"{m}.{p}" for m in ("dw", "gconv") for p in ("kernel", "bias")}
    assert groups["dw"].lr == pytest.approx(lr / 2) and groups["dw"].weight_decay == wd
    assert all(g.weight_decay == wd for g in plan.groups if g.name != "norms")
    text = compiled.describe()
    assert "[norms] 5 variables, trained, lr=0.01, weight_decay=0," in text

    names = list(lrspec.get_target("keras").parameters(model))
    assert len(names) == len(compiled.trainable_variables)
    variables = compiled.trainable_variables
    # float64 where the backend has it (JAX without jax_enable_x64 makes the layers float32)
    dtype = keras.ops.convert_to_numpy(variables[0]).dtype
    rtol, atol = (1e-10, 1e-14) if dtype == np.float64 else (1e-5, 1e-7)
    rng = np.random.default_rng(0)
    init = {n: rng.normal(size=tuple(v.shape)).astype(dtype) for n, v in zip(names, variables)}
    grads = {n: rng.normal(size=p.shape).astype(dtype) for n, p in init.items()}
    for n, v in zip(names, variables):
        v.assign(init[n])
    compiled.optimizer.apply_gradients([(keras.ops.convert_to_tensor(grads[n]), v) for n, v in zip(names, variables)])
    got = {n: keras.ops.convert_to_numpy(v) for n, v in zip(names, variables)}
    ref = ReferenceOptimizer(plan, {n: p.astype(np.float64) for n, p in init.items()})
    ref.step({n: g.astype(np.float64) for n, g in grads.items()})
    for n in names:
        assert got[n].dtype == dtype, n
        np.testing.assert_allclose(got[n], ref.params[n], rtol=rtol, atol=atol, err_msg=n)
    # adamw's first update: p * (1 - lr*wd) - lr * g / (|g| + eps) (bias-corrected m/sqrt(v) = g/|g|)
    for n, n_wd in (("bn.gamma", 0.0), ("inner.ln.beta", 0.0), ("head.kernel", wd)):
        p, g = init[n].astype(np.float64), grads[n].astype(np.float64)
        want = p * (1 - lr * n_wd) - lr * g / (np.abs(g) + eps)
        np.testing.assert_allclose(got[n], want, rtol=rtol, atol=atol, err_msg=n)
