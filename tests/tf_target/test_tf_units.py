"""Schedules as TF ops, gradient-scale rules, native MultiOptimizer, errors, state round trips."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from _schedule_nodes import SCHEDULE_NODES, SCHEDULE_TIMES  # noqa: E402

import lrspec  # noqa: E402
from lrspec import schedules as core_schedules  # noqa: E402
from lrspec.errors import TargetError  # noqa: E402
from lrspec.spec.models import Spec  # noqa: E402


def _node(d: dict[str, Any]) -> Any:
    spec = Spec.model_validate({"version": 1, "optimizer": {"type": "sgd"}, "schedule": d})
    return spec.schedule


@pytest.mark.parametrize("node", SCHEDULE_NODES, ids=[n["type"] for n in SCHEDULE_NODES])
def test_schedule_ops_match_core_schedules(node: dict[str, Any]) -> None:
    from lrspec_tf.schedules import schedule_op

    parsed = _node(node)
    fn = core_schedules.from_spec(parsed)
    op = tf.function(schedule_op(parsed))
    got = [float(op(tf.constant(t, tf.int64)).numpy()) for t in SCHEDULE_TIMES]
    want = [fn(t) for t in SCHEDULE_TIMES]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert op(tf.constant(3, tf.int64)).dtype == tf.float64


# ---------------------------------------------------------------- gradient-scale

def _sgd_spec(**opt: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1, **opt},
        "schedule": {"type": "exponential", "decay_rate": 0.9, "decay_steps": 3},
        "groups": [{"name": "head", "params": ["head*"], "lr_mult": 0.1},
                   {"name": "late", "params": ["late*"], "lr_mult": 3.0, "freeze": {"until_step": 4}}],
    }


def _vars(seed: int = 0) -> tuple[dict[str, np.ndarray], list[Any]]:
    rng = np.random.default_rng(seed)
    init = {n: rng.normal(size=(3,)).astype(np.float32) for n in ("body", "head", "late")}
    return init, [keras.Variable(v, name=n) for n, v in init.items()]


def _grads(n: int = 12, seed: int = 3) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{k: rng.normal(size=(3,)).astype(np.float32) for k in ("body", "head", "late")} for _ in range(n)]


@pytest.mark.parametrize("opt", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                 {"momentum": 0.7, "dampening": 0.3}])
def test_gradient_scale_equals_default_strategy_for_sgd(opt: dict[str, Any]) -> None:
    grads = _grads()
    finals = []
    for strategy in ("multiplier", "gradient-scale"):
        init, variables = _vars()
        c = lrspec.compile(_sgd_spec(**opt), variables, target="tf", strategy=strategy)
        for g in grads:
            c.optimizer.apply_gradients([(tf.constant(g[v.path]), v) for v in c.trainable_variables])
        finals.append({v.path: v.numpy() for v in variables})
    ref = lrspec.reference.simulate(c.plan, init, grads)[-1]
    for n in init:
        disp = np.abs(ref[n] - init[n]).max()
        for f in finals:
            assert np.abs(f[n] - ref[n]).max() <= 1e-5 * disp
        np.testing.assert_allclose(finals[0][n], finals[1][n], rtol=0, atol=1e-6 * disp)


def test_gradient_scale_v1_equals_reference_for_momentum() -> None:
    grads = _grads()
    init, _ = _vars()
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=tf.constant(v)) for n, v in init.items()]
        c = lrspec.compile(_sgd_spec(momentum=0.9), variables, target="tf-v1", strategy="gradient-scale")
        phs = {n: tf.compat.v1.placeholder(tf.float32, (3,)) for n in init}
        train = c.apply_gradients([(phs[v.name[:-2]], v) for v in variables])
        init_op = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init_op)
        for g in grads:
            sess.run(train, {phs[n]: g[n] for n in init})
        final = dict(zip(init, sess.run(variables)))
    ref = lrspec.reference.simulate(c.plan, init, grads)[-1]
    for n in init:
        assert np.abs(final[n] - ref[n]).max() <= 1e-5 * np.abs(ref[n] - init[n]).max()


def test_gradient_scale_refuses_adam_with_reason() -> None:
    spec = {"version": 1, "optimizer": {"type": "adam", "lr": 1e-3},
            "groups": [{"name": "head", "params": ["head"], "lr_mult": 0.01}]}
    _, variables = _vars()
    with pytest.raises(TargetError) as info:
        lrspec.compile(spec, variables, target="tf", strategy="gradient-scale")
    msg = str(info.value)
    assert "Adam normalises gradient scale" in msg
    assert "multiplier of 0.01" in msg and "< 0.1 %" in msg and "default strategy" in msg
    with pytest.raises(TargetError, match="Adam normalises gradient scale"):
        lrspec.compile(spec, variables, target="tf-v1", strategy="gradient-scale")
    c = lrspec.compile(spec, variables, target="tf", strategy="gradient-scale", allow_inexact=True)
    assert any(r.startswith("INEXACT") for r in c.report)


def test_gradient_scale_refuses_weight_decay_and_mixed_schedules() -> None:
    _, variables = _vars()
    with pytest.raises(TargetError, match="weight decay"):
        lrspec.compile(_sgd_spec(momentum=0.9, weight_decay=1e-3), variables, target="tf", strategy="gradient-scale")
    spec = _sgd_spec()
    spec["groups"][0]["schedule"] = {"type": "constant"}
    with pytest.raises(TargetError, match="different schedules"):
        lrspec.compile(spec, variables, target="tf", strategy="gradient-scale", allow_inexact=True)


def test_lr_mult_custom_gradient_scales_gradient() -> None:
    from lrspec_tf import lr_mult

    x = tf.Variable([1.0, -2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(lr_mult(0.25)(x) ** 2)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 0.25 * 2 * np.array([1.0, -2.0, 3.0]), rtol=1e-7)
    np.testing.assert_array_equal(lr_mult(0.25)(x).numpy(), x.numpy())


def test_lr_mult_equals_lr_multiplier_for_momentum_sgd() -> None:
    """custom_gradient(0.1) on the head + one lr equals a spec group with lr_mult 0.1 (sgd momentum)."""
    from lrspec_tf import lr_mult

    rng = np.random.default_rng(5)
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    h0 = rng.normal(size=(3, 2)).astype(np.float32)
    xs = [tf.constant(rng.normal(size=(8, 4)).astype(np.float32)) for _ in range(10)]
    base = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
            "schedule": {"type": "cosine", "decay_steps": 10}}
    results = []
    for use_custom in (False, True):
        w, h = keras.Variable(w0, name="w"), keras.Variable(h0, name="h")
        spec = dict(base)
        if not use_custom:
            spec["groups"] = [{"name": "h", "params": ["h"], "lr_mult": 0.1}]
        c = lrspec.compile(spec, [w, h], target="tf")
        for x in xs:
            with tf.GradientTape() as tape:
                hh = lr_mult(0.1)(h) if use_custom else h
                loss = tf.reduce_sum(tf.tanh(x @ w) @ hh)
            gs = tape.gradient(loss, c.trainable_variables)
            c.optimizer.apply_gradients(zip(gs, c.trainable_variables))
        results.append((w.numpy(), h.numpy()))
    for a, b, p0 in zip(results[0], results[1], (w0, h0)):
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a - p0).max()


# ---------------------------------------------------------------- native

def test_native_plain_sgd_is_exact_and_reports() -> None:
    spec = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.1, "weight_decay": 0.01},
            "schedule": {"type": "multistep", "milestones": [4], "gamma": 0.5},
            "groups": [{"name": "head", "params": ["head"], "lr_mult": 0.1},
                       {"name": "ice", "params": ["late"], "freeze": True}]}
    init, variables = _vars()
    c = lrspec.compile(spec, variables, target="tf", native=True)
    assert isinstance(c.optimizer, keras.optimizers.MultiOptimizer)
    assert any("exact" in r for r in c.report)
    grads = _grads(8)
    tv = [v for v in variables if v.path != "late"]
    assert [v.path for v in c.trainable_variables] == [v.path for v in tv]
    for g in grads:
        c.optimizer.apply_gradients([(tf.constant(g[v.path]), v) for v in tv])
    ref = lrspec.reference.simulate(c.plan, init, grads)[-1]
    for v in tv:
        assert np.abs(v.numpy() - ref[v.path]).max() <= 1e-5 * np.abs(ref[v.path] - init[v.path]).max()
    np.testing.assert_array_equal(variables[2].numpy(), init["late"])


def test_native_reports_adam_deviation_and_refuses_coupled_wd() -> None:
    _, variables = _vars()
    ok = {"version": 1, "optimizer": {"type": "adamw", "lr": 1e-3}}
    c = lrspec.compile(ok, variables, target="tf", native=True)
    assert any("DEVIATES" in r and "epsilon" in r for r in c.report)
    assert "DEVIATES" in c.describe()
    bad = {"version": 1, "optimizer": {"type": "adam", "lr": 1e-3, "weight_decay": 1e-2}}
    with pytest.raises(TargetError, match="coupled L2"):
        lrspec.compile(bad, variables, target="tf", native=True)
    with pytest.raises(TargetError, match="dampening"):
        lrspec.compile({"version": 1, "optimizer": {"type": "sgd", "momentum": 0.9, "dampening": 0.1}},
                       variables, target="tf", native=True)


# ---------------------------------------------------------------- errors, names, skipping

def test_unmatched_pattern_error_shows_actual_names() -> None:
    _, variables = _vars()
    spec = {"version": 1, "optimizer": {"type": "sgd"}, "groups": [{"name": "x", "params": ["dense_1.*"]}]}
    with pytest.raises(lrspec.ResolveError, match="body, head, late"):
        lrspec.compile(spec, variables, target="tf")


def test_parameters_use_keras_paths() -> None:
    inp = keras.Input((4,))
    out = keras.layers.Dense(2, name="head")(keras.layers.Dense(3, name="enc")(inp))
    model = keras.Model(inp, out)
    names = lrspec.get_target("tf").parameters(model)
    assert {n: m.shape for n, m in names.items()} == {"enc.kernel": (4, 3), "enc.bias": (3,), "head.kernel": (3, 2), "head.bias": (2,)}
    assert dict(lrspec.get_target("tf-v1").parameters([tf.Variable([1.0], name="scope/w")])) == {"scope.w": (1,)}


def test_unknown_variable_at_build_is_a_target_error() -> None:
    _, variables = _vars()
    c = lrspec.compile({"version": 1, "optimizer": {"type": "adam"}}, variables[:2], target="tf")
    fresh = type(c.optimizer)(list(c.plan.groups), base_lr=1e-3)
    with pytest.raises(TargetError, match="'late' is not in the plan"):
        fresh.build(variables)
    with pytest.raises(TargetError, match="unknown option"):
        lrspec.compile({"version": 1, "optimizer": {"type": "adam"}}, variables, target="tf", foo=1)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_none_gradient_skips_variable_like_torch() -> None:
    init, variables = _vars()
    spec = {"version": 1, "optimizer": {"type": "adam", "lr": 0.01},
            "groups": [{"name": "ice", "params": ["late"], "freeze": True}]}
    c = lrspec.compile(spec, variables, target="tf")
    grads = _grads(10)
    for t, g in enumerate(grads):
        if t % 3 == 0:
            g["head"] = None  # type: ignore[assignment]
        # frozen 'late' is passed too (as model.fit does); it must stay untouched
        c.optimizer.apply_gradients([(None if g[v.path] is None else tf.constant(g[v.path]), v) for v in variables])
    ref = lrspec.reference.simulate(c.plan, init, grads)[-1]
    for v in variables[:2]:
        assert np.abs(v.numpy() - ref[v.path]).max() <= 1e-5 * np.abs(ref[v.path] - init[v.path]).max()
    np.testing.assert_array_equal(variables[2].numpy(), init["late"])


# ---------------------------------------------------------------- state round trips

def test_config_and_checkpoint_round_trip(tmp_path: Any) -> None:
    spec = {"version": 1, "optimizer": {"type": "rmsprop", "lr": 0.01, "momentum": 0.5, "centered": True},
            "schedule": {"type": "cosine", "decay_steps": 20}, "groups": [{"name": "h", "params": ["head"], "lr_mult": 0.3}]}
    grads = _grads(12)
    init, variables = _vars()
    c = lrspec.compile(spec, variables, target="tf")
    step = tf.function(lambda gs: c.optimizer.apply_gradients(zip(gs, c.trainable_variables)))
    for g in grads[:6]:
        step([tf.constant(g[v.path]) for v in variables])
    ckpt = tf.train.Checkpoint(optimizer=c.optimizer, vars=variables)
    path = ckpt.save(str(tmp_path / "ckpt"))
    n_slots = len(c.optimizer.variables)
    assert n_slots == 2 + 3 * 3  # iterations, learning_rate, 3 slots x 3 variables
    # new optimizer from the config, restored from the checkpoint, continues the run
    _, variables2 = _vars(seed=9)
    opt2 = type(c.optimizer).from_config(c.optimizer.get_config())
    opt2.build(variables2)
    tf.train.Checkpoint(optimizer=opt2, vars=variables2).restore(path).assert_existing_objects_matched()
    assert int(opt2.iterations.numpy()) == 6
    for g in grads[6:]:
        opt2.apply_gradients([(tf.constant(g[v.path]), v) for v in variables2])
    ref = lrspec.reference.simulate(c.plan, init, grads)[-1]
    for v in variables2:
        assert np.abs(v.numpy() - ref[v.path]).max() <= 1e-4 * np.abs(ref[v.path] - init[v.path]).max()


def test_weight_decay_argument_is_refused() -> None:
    from lrspec_tf.keras_optimizers import TorchAdam

    plan = lrspec.resolve(lrspec.Spec.model_validate({"version": 1, "optimizer": {"type": "adam"}}), ["a"])
    with pytest.raises(TargetError, match="weight_decay"):
        TorchAdam(list(plan.groups), weight_decay=0.1)
