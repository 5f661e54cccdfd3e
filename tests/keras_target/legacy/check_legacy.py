"""The check of ``.keras`` files written by the old Keras optimizers (``make_legacy_files.py``),
shared by the in-process TensorFlow test and the JAX / torch backend worker.

:func:`check` loads one file with the current code, then trains a fresh twin from the file's
initial weights with the current ``keras`` target for the same updates: the loaded model's
weights and every optimizer variable (positionally, as Keras loads them, shapes included) must
equal the fresh run's, and both must stay equal over 3 more updates. A slot loaded into the
wrong variable, a step counter lost or a plan group changed makes them differ.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import ops

import lrspec

HERE = Path(__file__).resolve().parent
STEPS_AFTER = 3


def _make() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_legacy_files", HERE / "make_legacy_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _np(v: object) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(v))


def check(stem: str, rtol: float = 0.0, atol: float = 1e-6) -> None:
    """Load ``<stem>.keras`` and compare it with a fresh current-code run (see the module docstring);
    ``rtol``/``atol``: tolerances on weights and optimizer variables (exact on the backend that
    wrote the files; another backend's float32 gradients differ at roundoff)."""
    import lrspec_keras.optimizers as O  # registers the classes (as any custom Keras class must be)

    make = _make()
    kind, spec = make.CASES[stem]  # type: ignore[attr-defined]
    loaded = keras.saving.load_model(HERE / f"{stem}.keras")
    opt = loaded.optimizer
    assert isinstance(opt, O.LrspecOptimizer), type(opt)
    assert type(opt).family == spec["optimizer"]["type"], type(opt)
    assert int(_np(opt.iterations)) == make.STEPS_BEFORE  # type: ignore[attr-defined]

    fresh = make.model(kind)  # type: ignore[attr-defined]
    with np.load(HERE / f"{stem}_initial.npz") as saved:
        initial = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    fresh.set_weights(initial)
    compiled = lrspec.compile(spec, fresh, target="keras")
    fresh.compile(optimizer=compiled.optimizer, loss="mse")
    x, y = make.batches(make.STEPS_BEFORE)  # type: ignore[attr-defined]  # the data the file was trained on
    fresh.fit(x, y, batch_size=make.BATCH, epochs=1, shuffle=False, verbose=0)  # type: ignore[attr-defined]

    assert [g.name for g in opt.groups] == [g.name for g in compiled.optimizer.groups]
    old_vars, new_vars = opt.variables, compiled.optimizer.variables
    assert len(old_vars) == len(new_vars), (len(old_vars), len(new_vars))
    for i, (a, b) in enumerate(zip(old_vars, new_vars)):
        assert tuple(a.shape) == tuple(b.shape), (i, a.path, b.path)
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=f"optimizer variable {i} ({b.path})")
    for a, b in zip(loaded.weights, fresh.weights):
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=f"weight {b.path} after loading")

    rng = np.random.default_rng(12)
    x = rng.normal(size=(STEPS_AFTER * make.BATCH, x.shape[1])).astype(np.float32)  # type: ignore[attr-defined]
    y = rng.normal(size=(STEPS_AFTER * make.BATCH, y.shape[1])).astype(np.float32)  # type: ignore[attr-defined]
    for m in (loaded, fresh):
        m.fit(x, y, batch_size=make.BATCH, epochs=1, shuffle=False, verbose=0)  # type: ignore[attr-defined]
    moved = 0.0
    for a, b, w0 in zip(loaded.weights, fresh.weights, initial):
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol, err_msg=f"weight {b.path} after continuing")
        moved = max(moved, float(np.max(np.abs(_np(b) - w0))))
    assert moved > 100 * atol, f"the run barely moved ({moved}): the comparison would be vacuous"
    assert int(_np(opt.iterations)) == make.STEPS_BEFORE + STEPS_AFTER  # type: ignore[attr-defined]


STEMS = ("adam_sequential", "rmsprop_functional")
"""The checked-in legacy files (``make_legacy_files.CASES``)."""
