"""Runs the Keras-target scenarios under the backend in ``KERAS_BACKEND`` (one process per backend:
Keras reads it at import) and prints one JSON line ``{scenario: "ok" | error text}``.

Scenarios (argv[1:] selects; default all): ``matrix`` (a representative subset of the reference
matrix: every family and variant, schedules constant and warmup-cosine, every freeze kind, 40
updates; through ``apply_gradients`` and, on JAX, the jitted ``stateless_apply`` the JAX trainer
uses), ``fit_save_load`` (fit vs an ``apply_gradients`` loop; ``.keras`` save, load, continue
equal to the uninterrupted run, for Sequential, nested Sequential, functional and subclassed
models), ``callbacks`` (LearningRateScheduler / ReduceLROnPlateau rescale every group),
``native`` (MultiOptimizer of stock optimizers: fit runs, frozen variables unchanged),
``data_parallel`` (JAX only: DataParallel over 2 CPU devices equals one device), ``float64``
(float64 variables/optimizer vs the reference at 1e-10; JAX needs jax_enable_x64, set here),
``families`` (the issue-14 families in float32 and float64), ``legacy_files`` (``.keras`` files of the old
``lrspec_tf`` optimizers load and continue), ``schedules`` (every schedule kind's ``keras.ops``
form equals lrspec's definition, eager and compiled).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tf_target"))
sys.path.insert(0, str(HERE.parent / "integrations"))
sys.path.insert(0, str(HERE / "legacy"))
SCENARIOS = sys.argv[1:] or ["matrix", "fit_save_load", "callbacks", "native", "data_parallel", "float64", "families",
                             "legacy_files", "schedules"]
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    if "float64" in SCENARIOS:
        import jax

        jax.config.update("jax_enable_x64", True)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _lrspec_tf_matrix import FAMILIES, check_against_reference, gradient_sequence, initial_values  # noqa: E402
from keras import ops  # noqa: E402

import lrspec  # noqa: E402

BACKEND = keras.backend.backend()


def _target() -> Any:
    """The ``keras`` target (through the registry once it lists it)."""
    from lrspec.targets import BUILTIN_TARGETS, get_target

    if "keras" in BUILTIN_TARGETS:
        return get_target("keras")
    from lrspec_keras.target import KerasTarget

    return KerasTarget()


TARGET = _target()


def compile_(spec: Any, model: Any, **options: Any) -> Any:
    """``lrspec.compile(spec, model, target="keras", **options)``."""
    from lrspec.api import as_spec

    return TARGET.compile(lrspec.resolve(as_spec(spec), TARGET.parameters(model)), model, **options)
N, UNTIL = 40, 15
SCHEDULES = {"constant": {"type": "constant"},
             "warmcos": {"type": "warmup", "steps": 5, "start_mult": 0.1, "then": {"type": "cosine", "decay_steps": 30}}}
FREEZES: dict[str, Any] = {"none": None, "permanent": True, "until": {"until_step": UNTIL}}


def subset_spec(family: str) -> tuple[dict[str, Any], dict[str, tuple[int, ...]], dict[str, float]]:
    opt, variants = FAMILIES[family]
    groups, shapes, scales = [], {}, {}
    for k, (variant, over) in enumerate(variants.items()):
        for s_name, sched in SCHEDULES.items():
            for f_name, freeze in FREEZES.items():
                n = f"{variant}__{s_name}__{f_name}"
                shapes[n] = (3, 2) if (k + len(s_name)) % 2 else (4,)
                scales[n] = 1.0
                g: dict[str, Any] = {"name": f"g_{n}", "params": [n], "schedule": sched, **over}
                if freeze is not None:
                    g["freeze"] = freeze
                groups.append(g)
    return {"version": 1, "optimizer": opt, "groups": groups, "unmatched": "error"}, shapes, scales


def run_matrix(mode: str, dtype: str = "float32", tol: float = 1e-4) -> None:
    """The matrix subset vs the reference; on torch, also that every family of it went through
    torch.optim's multi-tensor rules (``lrspec_keras._torch_foreach``), not the per-variable path."""
    foreach_families: set[str] = set()
    if BACKEND == "torch":
        import lrspec_keras._torch_foreach as TF

        inner = TF.foreach_update

        def counting(family: str, *args: Any, **kwargs: Any) -> None:
            foreach_families.add(family)
            inner(family, *args, **kwargs)

        TF.foreach_update = counting
    try:
        _run_matrix(mode, dtype, tol)
    finally:
        if BACKEND == "torch":
            TF.foreach_update = inner
    if BACKEND == "torch":
        assert foreach_families == set(FAMILIES), sorted(foreach_families)


def _run_matrix(mode: str, dtype: str, tol: float) -> None:
    for family in sorted(FAMILIES):
        spec, shapes, scales = subset_spec(family)
        init = {n: v.astype(dtype) for n, v in initial_values(shapes).items()}
        grads = [{n: g.astype(dtype) for n, g in gs.items()} for gs in gradient_sequence(shapes, scales, n=N)]
        variables = [keras.Variable(v, name=n, dtype=dtype) for n, v in init.items()]
        c = compile_(spec, variables, **({"newton_schulz_dtype": "float64"} if dtype == "float64" else {}))
        opt = c.optimizer
        if mode == "stateless":  # the JAX trainer's path: every built variable, frozen ones included
            import jax

            built = [v.path for v in opt._trainable_variables]
            step = jax.jit(opt.stateless_apply)
            tv, ov = [v.value for v in opt._trainable_variables], [v.value for v in opt.variables]
            for t in range(N):
                tv, ov = step(ov, [ops.convert_to_tensor(grads[t][n]) for n in built], tv)
            final = {n: np.asarray(v) for n, v in zip(built, tv)}
        else:
            names = [v.path for v in c.trainable_variables]
            for t in range(N):
                opt.apply_gradients(zip([ops.convert_to_tensor(grads[t][n]) for n in names], c.trainable_variables))
            final = {v.path: ops.convert_to_numpy(v) for v in variables}
        assert all(final[n].dtype == np.dtype(dtype) for n in final), "dtype changed"
        check_against_reference(c.plan, init, grads, final, tol=tol)


def fit_save_load(tmp: Path) -> None:
    import _keras_kinds as K

    for kind in K.KINDS:
        if kind == "nested_sequential" and BACKEND == "torch":
            # Keras 3.15's torch backend itself does not continue a reloaded nested-Sequential model
            # exactly: stock keras.optimizers.SGD diverges by 8e-3 after load_model too (the two
            # Sequentials' variables both read back as "0/kernel")
            continue
        model = K.build(kind)
        names = list(TARGET.parameters(model))
        c = compile_(K.spec(names), model)
        model.compile(optimizer=c.optimizer, loss=K.LOSS)
        K.fit(model, kind, epochs=1)
        path = tmp / f"{kind}.keras"
        model.save(path)
        K.fit(model, kind, epochs=2)
        ref = K.weights(model)
        loaded = keras.models.load_model(path)
        assert type(loaded.optimizer).__name__ == "TorchAdamW", type(loaded.optimizer)
        assert int(ops.convert_to_numpy(loaded.optimizer.iterations)) == K.N // K.BATCH
        assert list(TARGET.parameters(loaded)) == names
        K.fit(loaded, kind, epochs=2)
        for k, w in K.weights(loaded).items():
            np.testing.assert_allclose(w, ref[k], rtol=0, atol=1e-6, err_msg=f"{kind} weight {k}")
    # fit == an apply_gradients loop over compiled.trainable_variables (functional model)
    kind = "functional"
    x, y = K.data(kind)
    m1, m2 = K.build(kind), K.build(kind)
    c1 = compile_(K.spec(list(TARGET.parameters(m1))), m1)
    m1.compile(optimizer=c1.optimizer, loss=K.LOSS)
    m1.fit(x, y, batch_size=K.BATCH, epochs=2, shuffle=False, verbose=0)
    c2 = compile_(K.spec(list(TARGET.parameters(m2))), m2)
    for _ in range(2):
        for i in range(0, K.N, K.BATCH):
            grads = gradients(m2, c2.trainable_variables, x[i:i + K.BATCH], y[i:i + K.BATCH], K.LOSS)
            c2.optimizer.apply_gradients(zip(grads, c2.trainable_variables))
    for a, b in zip(m1.weights, m2.weights):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=0, atol=1e-6)


def gradients(model: Any, variables: list[Any], x: Any, y: Any, loss_fn: Any) -> list[Any]:
    """d loss / d variables with the backend's own autodiff."""
    if BACKEND == "jax":
        import jax

        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        ids = {id(v): i for i, v in enumerate(model.trainable_variables)}

        def loss(tv: list[Any]) -> Any:
            out, _ = model.stateless_call(tv, ntv, x, training=True)
            return loss_fn(y, out)

        g = jax.grad(loss)(tv)
        return [g[ids[id(v)]] for v in variables]
    if BACKEND == "torch":
        import torch

        model.zero_grad() if hasattr(model, "zero_grad") else None
        out = model(ops.convert_to_tensor(x), training=True)
        value = loss_fn(ops.convert_to_tensor(y), out)
        return list(torch.autograd.grad(value, [v.value for v in variables]))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = loss_fn(y, model(x, training=True))
    return list(tape.gradient(value, variables))


def callbacks() -> None:
    import _keras_kinds as K

    kind = "functional"
    x, y = K.data(kind)
    spec = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.1},
            "groups": [{"name": "head", "params": ["head.*"], "lr_mult": 0.5}]}
    model, replay = K.build(kind), K.build(kind)
    c = compile_(spec, model)
    model.compile(optimizer=c.optimizer, loss=K.LOSS)
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 if epoch == 0 else 0.02)
    model.fit(x, y, batch_size=K.N, epochs=2, shuffle=False, verbose=0, callbacks=[sched])
    assert abs(float(ops.convert_to_numpy(c.optimizer.learning_rate)) - 0.02) < 1e-7
    for scale in (1.0, 0.2):  # replay: plain SGD, full batch, every group rescaled
        grads = gradients(replay, replay.trainable_variables, x, y, K.LOSS)
        for v, g in zip(replay.trainable_variables, grads):
            lr = 0.1 * scale * (0.5 if v.path.startswith("head") else 1.0)
            v.assign(ops.convert_to_tensor(v) - lr * g)
    for a, b in zip(model.weights, replay.weights):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=0, atol=1e-6)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    model.fit(x, y, batch_size=K.N, epochs=2, shuffle=False, verbose=0, callbacks=[plateau])
    assert abs(float(ops.convert_to_numpy(c.optimizer.learning_rate)) - 0.01) < 1e-7


def native() -> None:
    import _keras_kinds as K

    kind = "functional"
    model = K.build(kind)
    spec = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.1},
            "groups": [{"name": "head", "params": ["head.*"], "lr_mult": 0.5}, {"name": "f", "params": ["enc.bias"],
                                                                                 "freeze": True}]}
    c = compile_(spec, model, native=True)
    assert type(c.optimizer).__name__ == "MultiOptimizer" and c.strategy == "native"
    assert any("exact" in n for n in c.report), c.report
    frozen0 = ops.convert_to_numpy(model.get_layer("enc").bias)
    model.compile(optimizer=c.optimizer, loss=K.LOSS)
    K.fit(model, kind, epochs=1)
    np.testing.assert_array_equal(ops.convert_to_numpy(model.get_layer("enc").bias), frozen0)


def data_parallel() -> None:
    import _keras_kinds as K

    if BACKEND != "jax":
        return
    import jax

    assert len(jax.devices("cpu")) == 2, jax.devices()
    kind = "functional"
    results = []
    for distributed in (False, True):
        if distributed:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices("cpu")))
        try:
            model = K.build(kind)
            c = compile_(K.spec(list(TARGET.parameters(model))), model)
            model.compile(optimizer=c.optimizer, loss=K.LOSS)
            K.fit(model, kind, epochs=2)
            results.append(K.weights(model))
        finally:
            keras.distribution.set_distribution(None)
    for k, w in results[0].items():
        np.testing.assert_allclose(results[1][k], w, rtol=0, atol=1e-6, err_msg=f"weight {k}")


def families() -> None:
    """The issue-14 families: float32 (15 updates, reference tolerance 1e-4; muon with a float32
    Newton-Schulz, 1e-3) and float64 (15 updates, 1e-10; Newton-Schulz in float64)."""
    sys.path.insert(0, str(HERE))
    import test_keras_families as F
    from lrspec_keras._backend import float64_available

    F.N = 15
    # JAX with x64: float64 only (the worker run without x64 does float32, JAX's default)
    float32 = not (BACKEND == "jax" and float64_available())
    for family in sorted(F.FAMILIES):
        spec, shapes = F._spec(family)
        if float32:
            c, init, grads, final = F._run(spec, shapes, "float32", newton_schulz_dtype="float32")
            check_against_reference(c.plan, init, grads, final, tol=1e-4 if family != "muon" else 1e-3)
        if not float64_available():  # JAX without x64 (the worker sets it when float64 is selected)
            continue
        c, init, grads, final = F._run(spec, shapes, "float64", newton_schulz_dtype="float64")
        assert all(v.dtype == np.float64 for v in final.values()), family
        check_against_reference(c.plan, init, grads, final, tol=1e-10)


def schedules() -> None:
    """Every schedule kind's ``keras.ops`` form equals lrspec's definition, eager and compiled."""
    sys.path.insert(0, str(HERE))
    import keras_schedule_check

    keras_schedule_check.check_all()


def legacy_files() -> None:
    """``.keras`` files written on TensorFlow by the old ``lrspec_tf`` optimizers load and continue
    on this backend (``legacy/check_legacy.py``)."""
    import check_legacy

    for stem in check_legacy.STEMS:
        check_legacy.check(stem, rtol=1e-5, atol=1e-6)


def main() -> None:
    import tempfile

    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {
            # JAX: the jitted stateless_apply of its trainer (eager apply_gradients is covered by
            # fit_save_load's loop); elsewhere apply_gradients
            "matrix": lambda: run_matrix("stateless" if BACKEND == "jax" else "apply"),
            "fit_save_load": lambda: fit_save_load(Path(tmp)),
            "callbacks": callbacks,
            "native": native,
            "data_parallel": data_parallel,
            "families": families,
            "legacy_files": legacy_files,
            "schedules": schedules,
            "float64": lambda: run_matrix("stateless" if BACKEND == "jax" else "apply", "float64", 1e-10),
        }
        for name, job in jobs.items():
            if name not in SCENARIOS:
                continue
            try:
                job()
                out[name] = "ok"
            except Exception:
                out[name] = traceback.format_exc(limit=6)[-3000:]
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
