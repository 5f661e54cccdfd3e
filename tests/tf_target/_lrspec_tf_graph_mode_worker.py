"""Run in a fresh process: the tf-v1 target with eager execution disabled for the whole process.

Variables are created with variable scopes; the loss is ``sum(v * g_t)`` so the gradient
``minimize`` computes is exactly the fed ``g_t``, which lets the run be compared with
``lrspec.reference.simulate`` on the same gradients. Prints one JSON line.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()

import lrspec  # noqa: E402

STEPS = 20
SPEC = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 0.01, "weight_decay": 0.01},
    "schedule": {"type": "exponential", "decay_rate": 0.9, "decay_steps": 5, "staircase": True},
    "groups": [
        {"name": "head", "params": ["head.*"], "lr_mult": 0.1},
        {"name": "body", "params": ["body.*"], "freeze": {"until_step": 7}},
        {"name": "stem", "params": ["stem.*"], "freeze": True},
    ],
}
SHAPES = {"stem.w": (3,), "body.w": (4, 2), "head.w": (2,), "head.b": (1,)}


def main() -> None:
    rng = np.random.default_rng(0)
    init = {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}
    grads = [{n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()} for _ in range(STEPS)]
    variables, feeds = [], {}
    for name, value in init.items():
        scope, leaf = name.split(".")
        with tf.compat.v1.variable_scope(scope):
            variables.append(tf.compat.v1.get_variable(leaf, initializer=tf.constant(value)))
        feeds[name] = tf.compat.v1.placeholder(tf.float32, SHAPES[name])
    loss = tf.add_n([tf.reduce_sum(v * feeds[n]) for n, v in zip(init, variables)])
    global_step = tf.compat.v1.train.get_or_create_global_step()
    compiled = lrspec.compile(SPEC, tf.compat.v1.trainable_variables(), target="tf-v1")
    train = compiled.minimize(loss, global_step=global_step)
    trajectory = []
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        for g in grads:
            sess.run(train, {feeds[n]: g[n] for n in init})
            trajectory.append(dict(zip(init, sess.run(variables))))
        steps_done = int(sess.run(global_step))
    ref = lrspec.reference.simulate(compiled.plan, {n: v.astype(np.float64) for n, v in init.items()}, grads)
    worst = 0.0
    for t, values in enumerate(trajectory, start=1):
        for n, v in values.items():
            moved = float(np.abs(ref[t][n] - init[n]).max())
            if moved > 0:
                worst = max(worst, float(np.abs(v - ref[t][n]).max()) / moved)
    print(
        json.dumps(
            {
                "executing_eagerly": tf.executing_eagerly(),
                "global_step": steps_done,
                "worst_rel_to_moved": worst,
                "stem_unchanged": bool(all(np.array_equal(tr["stem.w"], init["stem.w"]) for tr in trajectory)),
                "body_unchanged_before_7": bool(
                    all(np.array_equal(tr["body.w"], init["body.w"]) for tr in trajectory[:7])
                ),
                "body_moved_after": bool(not np.array_equal(trajectory[-1]["body.w"], init["body.w"])),
                "trainable": [v.name for v in compiled.trainable_variables],
            }
        )
    )


if __name__ == "__main__":
    main()
