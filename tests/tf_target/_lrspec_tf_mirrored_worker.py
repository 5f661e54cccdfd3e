"""Run in a subprocess by test_tf_distributed.py: two logical CPUs must exist before TF initialises.

Trains the same model with the compiled optimizer (a) under MirroredStrategy on two logical
CPU devices via model.fit and (b) on one device, and prints the max abs weight difference.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import lrspec  # noqa: E402

SPEC = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.01, "weight_decay": 0.01},
    "schedule": {"type": "exponential", "decay_rate": 0.5, "decay_steps": 5},
    "groups": [{"name": "enc", "params": ["enc.*"], "lr_mult": 0.1},
               {"name": "late", "params": ["head.kernel"], "freeze": {"until_step": 3}},
               {"name": "ice", "params": ["head.bias"], "freeze": True}],
}


def build() -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    h = keras.layers.Dense(8, activation="tanh", name="enc")(inp)
    return keras.Model(inp, keras.layers.Dense(1, name="head")(h))


rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype(np.float32)
y = rng.normal(size=(64, 1)).astype(np.float32)
results = []
for distributed in (True, False):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if distributed else tf.distribute.get_strategy()
    with strategy.scope():
        model = build()
        c = lrspec.compile(SPEC, model, target="tf")
        model.compile(optimizer=c.optimizer, loss="mse")
    replicas = strategy.num_replicas_in_sync
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    results.append(([w.numpy() for w in model.weights], replicas, int(c.optimizer.iterations.numpy())))
(dist, n_rep, it_d), (single, _, it_s) = results
diff = max(float(np.abs(a - b).max()) for a, b in zip(dist, single))
moved = max(float(np.abs(a - b).max()) for a, b in zip(single, [w.numpy() for w in build().weights]))
json.dump({"replicas": n_rep, "diff": diff, "moved": moved, "iterations": [it_d, it_s]}, sys.stdout)
