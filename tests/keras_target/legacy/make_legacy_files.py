"""Writes the ``.keras`` files of ``test_legacy_keras_files.py`` with the OLD Keras optimizers
(``lrspec_tf.keras_optimizers`` of commit 4b94c61, before the ``keras.ops`` rewrite). Not run by
the tests: the files it wrote are checked in. To regenerate (TensorFlow backend)::

    git worktree add /tmp/old_lrspec 4b94c61
    KERAS_BACKEND=tensorflow python tests/keras_target/legacy/make_legacy_files.py \\
        /tmp/old_lrspec tests/keras_target/legacy

(the first argument is put first on ``sys.path``, and an editable install's finder of the
current checkout is removed, so that both ``lrspec`` and ``lrspec_tf`` are the old ones).

Each file is a model compiled by that commit's ``lrspec_tf.target.TfTarget`` and trained
for :data:`STEPS_BEFORE` updates by ``model.fit`` on :func:`batches`, then saved; its initial
weights (``model.get_weights()`` before training) are saved beside it as ``<stem>_initial.npz``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

STEPS_BEFORE = 3
BATCH = 8

#: file stem -> (model kind, spec): Adam with a frozen stem, a group frozen until update 2 and a
#: slow head (variables without state in the build list); RMSprop centered with momentum (three
#: slots per variable) on a functional model.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "adam_sequential": ("sequential", {
        "version": 1,
        "optimizer": {"type": "adam", "lr": 1e-2, "weight_decay": 1e-3},
        "schedule": {"type": "warmup", "steps": 2, "then": {"type": "cosine", "decay_steps": 20}},
        "groups": [
            {"name": "stem", "params": ["fc0.*"], "freeze": True},
            {"name": "mid", "params": ["fc1.*"], "freeze": {"until_step": 2}},
            {"name": "head", "params": ["fc2.*"], "lr_mult": 0.1},
        ],
    }),
    "rmsprop_functional": ("functional", {
        "version": 1,
        "optimizer": {"type": "rmsprop", "lr": 1e-3, "momentum": 0.9, "centered": True},
        "groups": [{"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0}],
    }),
}


def model(kind: str) -> Any:
    """An MLP 6-5-4-3 (layers fc0, fc1, fc2), seeded; ``kind``: sequential or functional."""
    import keras

    keras.utils.set_random_seed(7)
    layers = [keras.layers.Dense(5, activation="tanh", name="fc0"), keras.layers.Dense(4, activation="tanh", name="fc1"),
              keras.layers.Dense(3, name="fc2")]
    if kind == "sequential":
        return keras.Sequential([keras.Input((6,)), *layers], name="mlp")
    inp = keras.Input((6,), name="x")
    h = inp
    for layer in layers:
        h = layer(h)
    return keras.Model(inp, h, name="mlp")


def batches(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` batches of :data:`BATCH` samples (x float32 (n*BATCH, 6), y float32 (n*BATCH, 3))."""
    rng = np.random.default_rng(11)
    return (rng.normal(size=(n * BATCH, 6)).astype(np.float32), rng.normal(size=(n * BATCH, 3)).astype(np.float32))


def main(out: Path) -> None:
    import lrspec_tf
    from lrspec_tf.target import TfTarget

    import lrspec
    from lrspec.api import as_spec
    from lrspec.resolve import resolve

    assert Path(lrspec.__file__).is_relative_to(sys.path[0]), lrspec.__file__
    assert Path(lrspec_tf.__file__).is_relative_to(sys.path[0]), lrspec_tf.__file__
    for stem, (kind, spec) in CASES.items():
        m = model(kind)
        target = TfTarget()  # the old Keras target itself (that commit's registry already names lrspec_keras)
        compiled = target.compile(resolve(as_spec(spec), target.parameters(m)), m)
        m.compile(optimizer=compiled.optimizer, loss="mse")
        np.savez(out / f"{stem}_initial.npz", *m.get_weights())
        x, y = batches(STEPS_BEFORE)
        m.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        m.save(out / f"{stem}.keras")
        print(f"wrote {out / f'{stem}.keras'} with {type(m.optimizer).__module__}.{type(m.optimizer).__name__}")


if __name__ == "__main__":
    old = Path(sys.argv[1]).resolve()
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    sys.path[:0] = [str(old), str(old / "adapters")]
    main(Path(sys.argv[2]))
