"""Every family and variant x schedule x freeze against lrspec.reference: the Keras optimizer
inside tf.function and the tf-v1 train op in a graph session over 100 updates, and the Keras
optimizer eagerly over the first :data:`EAGER_UPDATES` (past the freeze-until at update 30: the
eager run executes the same update code op by op, at 0.3-0.4 s per update for a whole matrix, so
the schedules' later phases are left to the tf.function run)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from _lrspec_tf_matrix import (  # noqa: E402
    FAMILIES,
    N_UPDATES,
    UNTIL,
    check_against_reference,
    gradient_sequence,
    initial_values,
    matrix_spec,
)

import lrspec  # noqa: E402

EAGER_UPDATES = UNTIL + 10


def _keras_vars(init: dict[str, np.ndarray]) -> list[Any]:
    return [keras.Variable(v, name=n) for n, v in init.items()]


def _run_tf(family: str, mode: str) -> None:
    spec, shapes, scales = matrix_spec(family)
    init = initial_values(shapes)
    updates = N_UPDATES if mode == "function" else EAGER_UPDATES
    grads = gradient_sequence(shapes, scales)[:updates]
    variables = _keras_vars(init)
    compiled = lrspec.compile(spec, variables, target="tf")
    tv = compiled.trainable_variables
    names = [v.path for v in tv]
    frozen = set(compiled.plan.frozen_params)
    assert set(names) == set(compiled.plan.names) - frozen
    opt = compiled.optimizer

    def step(gs: list[Any]) -> None:
        opt.apply_gradients(zip(gs, tv))

    run = tf.function(step) if mode == "function" else step
    at_until: dict[str, np.ndarray] = {}
    for t in range(updates):
        if t == UNTIL:
            at_until = {v.path: v.numpy() for v in variables}
        run([tf.constant(grads[t][n]) for n in names])
    assert int(opt.iterations.numpy()) == updates
    for n, value in at_until.items():
        if n.endswith("__until"):
            assert np.array_equal(value, init[n]), f"{n} moved before update {UNTIL}"
    final = {v.path: v.numpy() for v in variables}
    check_against_reference(compiled.plan, init, grads, final)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tf_function_matches_reference(family: str) -> None:
    _run_tf(family, "function")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tf_eager_matches_reference(family: str) -> None:
    _run_tf(family, "eager")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tf_v1_graph_session_matches_reference(family: str) -> None:
    spec, shapes, scales = matrix_spec(family)
    init = initial_values(shapes)
    grads = gradient_sequence(shapes, scales)
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.get_variable(n, initializer=tf.constant(v)) for n, v in init.items()]
        compiled = lrspec.compile(spec, variables, target="tf-v1")
        placeholders = {n: tf.compat.v1.placeholder(tf.float32, shape=s) for n, s in shapes.items()}
        # d(loss)/d(v) is exactly the fed gradient; frozen variables are not differentiated
        loss = tf.add_n([tf.reduce_sum(placeholders[n] * v) for n, v in zip(init, variables)])
        global_step = tf.compat.v1.train.get_or_create_global_step()
        train_op = compiled.minimize(loss, global_step=global_step)
        init_op = tf.compat.v1.global_variables_initializer()
    trainable_names = {v.name[:-2] for v in compiled.trainable_variables}
    assert trainable_names == set(compiled.plan.names) - set(compiled.plan.frozen_params)
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init_op)
        for t in range(N_UPDATES):
            if t == UNTIL:
                mid = sess.run(variables)
                for n, value in zip(init, mid):
                    if n.endswith("__until"):
                        assert np.array_equal(value, init[n]), f"{n} moved before update {UNTIL}"
            sess.run(train_op, {placeholders[n]: grads[t][n] for n in shapes})
        final = dict(zip(init, sess.run(variables)))
        assert sess.run(global_step) == N_UPDATES
    check_against_reference(compiled.plan, init, grads, final)
