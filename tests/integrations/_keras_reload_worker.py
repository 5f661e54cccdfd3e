"""Fresh-process half of the Keras save/load tests: load each ``<kind>.keras`` from argv[1],
fit 2 more epochs, save weights and names to ``<kind>.npz``/``<kind>.json``. ``lrspec_keras`` is
imported first, before TensorFlow and Keras (the hardest order for its registration import
hook; examples/integrations/keras_fit.py imports Keras first), and nothing else of lrspec
before the files are loaded."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import lrspec_keras  # noqa: F401, I001  (registers the lrspec optimizer classes once Keras is imported)
import tensorflow  # noqa: F401
import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _keras_kinds as K

folder = sys.argv[1]
loaded = {kind: keras.models.load_model(os.path.join(folder, f"{kind}.keras")) for kind in K.KINDS}

import lrspec  # noqa: E402

for kind, model in loaded.items():
    names = list(lrspec.get_target("tf").parameters(model))
    iterations = int(model.optimizer.iterations.numpy())
    K.fit(model, kind, epochs=2)
    np.savez(os.path.join(folder, f"{kind}.npz"), **K.weights(model))
    with open(os.path.join(folder, f"{kind}.json"), "w") as f:
        json.dump({"names": names, "iterations": iterations, "type": type(model.optimizer).__name__}, f)
print("ok")
