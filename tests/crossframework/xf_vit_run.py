"""Running the ViT scenario with the suite's runners: a tf-v1 graph builder that can hold
root-level variables (``cls_token``, ``pos_embed``) and :func:`run_vit_scenario`.

:func:`xf_twins.build_v1_graph` creates each variable at ``_keras_path(stem) + "/" + leaf``,
which for a parameter without a module (stem ``""``) is ``"/cls_token"``, not a valid v1
scope name; :func:`build_vit_v1_graph` is the same builder with ``leaf`` alone for those, and
:class:`VitV1Runner` is :class:`xf_runners.V1Runner` on it. :func:`run_vit_scenario` is
:func:`xf_harness.run_scenario` with that runner (same runners otherwise, same lockstep
comparison :func:`xf_harness._lockstep`, same returned dict). With the one-line change in
``build_v1_graph`` (``path = f"{_keras_path(twin, stem)}/{leaf}" if stem else leaf``) the
harness runs the ViT twin itself and this module can go.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import xf_harness as H
import xf_twins as X
from xf_runners import KerasRunner, OptaxRunner, Runner, TorchRunner, V1Runner

import lrspec

__all__ = ["VitV1Runner", "build_vit_v1_graph", "run_vit_scenario"]


def build_vit_v1_graph(twin: X.Twin, weights: Mapping[str, np.ndarray], dtype: Any = np.float32) -> dict[str, Any]:
    """:func:`xf_twins.build_v1_graph` for image twins whose root holds parameters: variables
    at ``stem/leaf`` paths (``blocks.0/attn/qkv/kernel``), root parameters at ``leaf``."""
    import tensorflow as tf

    variables: dict[str, Any] = {}
    for tname, a in weights.items():
        name = twin.tf_name(tname)
        stem, _, leaf = name.rpartition(".")
        path = f"{stem.replace('.', '/')}/{leaf}" if stem else leaf
        init = twin.to_tf(tname, a).astype(dtype)
        variables[name] = tf.compat.v1.get_variable(path, initializer=tf.constant(init), use_resource=True)
    c, h, w = twin.input_shape
    x = tf.compat.v1.placeholder(tf.as_dtype(np.dtype(dtype)), (None, h, w, c), name="image")
    y = tf.compat.v1.placeholder(tf.int64, (None,), name="labels")
    logits = twin.v1_logits(x, variables)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return {"x": x, "y": y, "logits": logits, "loss": loss, "variables": variables}


class VitV1Runner(V1Runner):
    """:class:`xf_runners.V1Runner` (``compiled.minimize(loss, global_step)`` in one session)
    on :func:`build_vit_v1_graph`."""

    def __init__(
        self,
        twin: X.Twin,
        spec: Any,
        weights: Mapping[str, np.ndarray],
        batches: list[X.Batch],
        dtype: str = "float32",
        **options: Any,
    ) -> None:
        import tensorflow as tf

        self.label = "tf-v1"
        self.dtype = dtype
        self.graph = tf.Graph()
        with self.graph.as_default():
            built = build_vit_v1_graph(twin, weights, dtype)
            self.variables = built["variables"]
            self.compiled = lrspec.compile(spec, list(self.variables.values()), target="tf-v1", **options)
            self.global_step = tf.compat.v1.train.get_or_create_global_step()
            self.train_op = self.compiled.minimize(built["loss"], global_step=self.global_step)
            tvars = list(self.compiled.trainable_variables)
            names_of = {id(v): n for n, v in self.variables.items()}
            self.grad_names = [names_of[id(v)] for v in tvars]
            self.grads = tf.compat.v1.gradients(built["loss"], tvars) if tvars else []
            init = tf.compat.v1.global_variables_initializer()
        self.plan = self.compiled.plan
        self.names = list(self.variables)
        back = {twin.tf_name(n): n for n in weights}
        self.torch_name = {n: back[n] for n in self.names}
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.session.run(init)
        self.feeds = [{built["x"]: b.x_tf, built["y"]: b.y} for b in batches]


def run_vit_scenario(
    scenario: H.Scenario,
    with_optax: bool = True,
    dtype: str = "float32",
    keras_target: str = "tf",
    gradient_scale: bool = True,
) -> dict[str, Any]:
    """:func:`xf_harness.run_scenario` (same arguments, runners, comparisons and result) with
    :class:`VitV1Runner` as the tf-v1 runner."""
    start = time.perf_counter()
    twin = X.get_twin(scenario.model)
    spec = lrspec.load(scenario.path)
    weights = X.torch_weights(twin.torch_model(seed=0))
    batches = twin.data(seed=0, dtype=np.dtype(dtype))
    opts = dict(scenario.options)
    limits = H.bounds(scenario.id, dtype)
    runners: list[Runner] = [
        TorchRunner(twin, spec, weights, batches, dtype, **opts),
        KerasRunner(twin, spec, weights, batches, dtype=dtype, target=keras_target, **opts),
    ]
    refusal: str | None = None
    if gradient_scale:
        try:
            runners.append(
                KerasRunner(
                    twin,
                    spec,
                    weights,
                    batches,
                    label="tf-gradient-scale",
                    slot=1,
                    dtype=dtype,
                    target=keras_target,
                    strategy="gradient-scale",
                    **opts,
                )
            )
        except lrspec.TargetError as exc:
            refusal = str(exc)
    v1 = VitV1Runner(twin, spec, weights, batches, dtype, **opts)
    runners.append(v1)
    optax_impl: str | None = None
    if with_optax:
        optax_runner = OptaxRunner(twin, spec, weights, batches, dtype, **opts)
        runners.append(optax_runner)
        optax_impl = optax_runner.implementation
    stats = {r.label: H.TargetStats(r.label) for r in runners}
    try:
        H._lockstep(twin, runners, stats, limits)
        v1_step = v1.global_step_value()
    finally:
        for r in runners:
            r.close()
    return {
        "stats": stats,
        "refusal": refusal,
        "seconds": time.perf_counter() - start,
        "plans": {r.label: r.plan for r in runners},
        "torch_names": {r.label: r.torch_name for r in runners},
        "optax_impl": optax_impl,
        "v1_global_step": v1_step,
        "cross_tol": limits.cross,
        "bounds": limits,
    }
