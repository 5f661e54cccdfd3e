"""Keras ``fit`` + ``.keras`` save/load in a fresh process, for Sequential, nested Sequential
(lrspec's LeNet), functional and subclassed models: the names stay the same and the reloaded
model continues exactly like the uninterrupted run (fit, save, fit vs reload, fit: 1e-6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

sys.path.insert(0, str(Path(__file__).parent))
import _keras_kinds as K  # noqa: E402

import lrspec  # noqa: E402

pytestmark = pytest.mark.tf

EXPECTED_NAMES = {
    "sequential": ["body.kernel", "body.bias", "head.kernel", "head.bias"],
    "nested_sequential": [
        f"{p}.{i}.{v}"
        for p, idx in (("features", (0, 3)), ("classifier", (0, 2, 4)))
        for i in idx
        for v in ("kernel", "bias")
    ],
    "functional": ["enc.kernel", "enc.bias", "head.kernel", "head.bias"],
    "subclassed": ["block.enc.kernel", "block.enc.bias", "head.kernel", "head.bias"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: Any) -> tuple[Path, dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    folder = tmp_path_factory.mktemp("keras_save_load")
    uninterrupted: dict[str, dict[str, np.ndarray]] = {}
    names: dict[str, list[str]] = {}
    for kind in K.KINDS:
        model = K.build(kind)
        names[kind] = list(lrspec.get_target("tf").parameters(model))
        c = lrspec.compile(K.spec(names[kind]), model, target="tf")
        model.compile(optimizer=c.optimizer, loss=K.LOSS)
        K.fit(model, kind, epochs=1)
        model.save(folder / f"{kind}.keras")
        K.fit(model, kind, epochs=2)
        uninterrupted[kind] = K.weights(model)
    worker = Path(__file__).parent / "_keras_reload_worker.py"
    # The fresh process must compute with the same TF thread pools as this one (another test
    # folder may have pinned them to one thread): reductions split across threads round differently.
    import tensorflow as tf

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for var, n in (
        ("TF_NUM_INTRAOP_THREADS", tf.config.threading.get_intra_op_parallelism_threads()),
        ("TF_NUM_INTEROP_THREADS", tf.config.threading.get_inter_op_parallelism_threads()),
    ):
        if n > 0:
            env[var] = str(n)
    proc = subprocess.run(
        [sys.executable, str(worker), str(folder)], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder, uninterrupted, names


@pytest.mark.parametrize("kind", K.KINDS)
def test_names_are_the_layer_tree_names(kind: str, runs: Any) -> None:
    folder, _, names = runs
    assert names[kind] == EXPECTED_NAMES[kind]
    reloaded = json.loads((folder / f"{kind}.json").read_text())
    assert reloaded["names"] == names[kind]  # the same in a fresh process after load_model
    assert reloaded["type"] == "TorchAdamW" and reloaded["iterations"] == K.N // K.BATCH


@pytest.mark.parametrize("kind", K.KINDS)
def test_reloaded_model_continues_like_the_uninterrupted_run(kind: str, runs: Any) -> None:
    folder, uninterrupted, _ = runs
    with np.load(folder / f"{kind}.npz") as z:
        reloaded = {k: z[k] for k in z.files}
    assert reloaded.keys() == uninterrupted[kind].keys()
    for k, ref in uninterrupted[kind].items():
        np.testing.assert_allclose(reloaded[k], ref, rtol=0, atol=1e-6, err_msg=f"{kind} weight {k}")
    # and training really moved the weights after the reload point
    first = keras.models.load_model(folder / f"{kind}.keras")
    moved = max(
        float(np.abs(np.array(v.numpy()) - uninterrupted[kind][str(i)]).max()) for i, v in enumerate(first.weights)
    )
    assert moved > 1e-3
