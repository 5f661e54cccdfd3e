"""Runners of the cross-framework suite: one target training one twin, one update at a time.

A *runner* trains one framework's twin with one target's compiled optimizer. Each update
``t`` it trains on batch ``t % NUM_BATCHES`` and reports the gradients that target computed
and applied (dense, in its own layout and names); :mod:`xf_harness` compares the runners.

Every runner takes ``dtype`` (``"float32"`` or ``"float64"``): the model's parameters, the
data, the forward/backward pass and the optimizer are all of that dtype (torch ``.double()``;
Keras models built under ``keras.config.floatx() == "float64"``; v1 variables and placeholders;
Flax parameters and everything JAX does for them inside ``jax.enable_x64(True)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import xf_twins as X

import lrspec
from lrspec.plan import Plan


class Runner:
    """One target training one twin. ``names`` are the target's canonical names (model order),
    ``torch_name`` maps them to torch names, ``plan`` is the compiled plan."""

    label: str
    plan: Plan
    names: list[str]
    torch_name: dict[str, str]

    def step(self, t: int) -> dict[str, np.ndarray]:
        """Apply update ``t``; return the gradients used (dense, native layout)."""
        raise NotImplementedError

    def values(self) -> dict[str, np.ndarray]:
        """Current parameter values (native layout)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources."""


class TorchRunner(Runner):
    def __init__(
        self,
        twin: X.Twin,
        spec: Any,
        weights: Mapping[str, np.ndarray],
        batches: list[X.Batch],
        dtype: str = "float32",
        **options: Any,
    ) -> None:
        import torch

        self.label = "torch"
        self._torch = torch
        self.model = twin.torch_model(seed=0)
        if dtype == "float64":
            self.model = self.model.double()
        self.model.load_state_dict({n: torch.from_numpy(a.astype(dtype)) for n, a in weights.items()})
        self.compiled = lrspec.compile(spec, self.model, target="torch", **options)
        self.plan = self.compiled.plan
        self.names = [n for n, _ in self.model.named_parameters()]
        self.torch_name = {n: n for n in self.names}
        self.batches = [(torch.from_numpy(b.x_torch), torch.from_numpy(b.y)) for b in batches]

    def step(self, t: int) -> dict[str, np.ndarray]:
        x, y = self.batches[t % len(self.batches)]
        loss = self._torch.nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        grads = {n: p.grad.numpy().copy() for n, p in self.model.named_parameters() if p.grad is not None}
        self.compiled.optimizer.step()
        self.compiled.scheduler.step()
        self.compiled.optimizer.zero_grad(set_to_none=True)
        return grads

    def values(self) -> dict[str, np.ndarray]:
        return X.torch_weights(self.model)


_KERAS_CACHE: dict[tuple[str, int, str], tuple[Any, Any]] = {}


@contextlib.contextmanager
def keras_floatx(dtype: str) -> Iterator[None]:
    """Keras layers built inside take ``dtype`` as their variable and compute dtype.

    Keras fixes its global dtype policy when the first layer is built; after that, ``set_floatx``
    alone no longer changes what new layers get, so the policy is set (and restored) too."""
    import keras

    before, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(before)
        keras.config.set_dtype_policy(policy)


def _keras_model_and_grad_fn(twin: X.Twin, slot: int, dtype: str = "float32") -> tuple[Any, Any]:
    """Keras models per twin and dtype (``slot`` 0 for tf, 1 for tf gradient-scale, which
    trains beside it) with a traced forward/backward function, shared by every scenario
    (weights are re-assigned per scenario): the model graph is traced once per twin and slot."""
    if (twin.name, slot, dtype) not in _KERAS_CACHE:
        import keras
        import tensorflow as tf

        with keras_floatx(dtype):
            model = twin.keras_builder(seed=None)
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # its dtype: floatx
        variables = list(model.weights)

        @tf.function
        def grad_fn(x: Any, y: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            return tape.gradient(loss, variables)

        _KERAS_CACHE[twin.name, slot, dtype] = (model, grad_fn)
    return _KERAS_CACHE[twin.name, slot, dtype]


class KerasRunner(Runner):
    def __init__(
        self,
        twin: X.Twin,
        spec: Any,
        weights: Mapping[str, np.ndarray],
        batches: list[X.Batch],
        label: str = "tf",
        slot: int = 0,
        dtype: str = "float32",
        target: str = "tf",
        **options: Any,
    ) -> None:
        import tensorflow as tf

        self.label = label
        self.dtype = dtype
        self.model, self.grad_fn = _keras_model_and_grad_fn(twin, slot, dtype)
        X.set_keras_weights(twin, self.model, weights)
        self.compiled = lrspec.compile(spec, self.model, target=target, **options)
        self.plan = self.compiled.plan
        self.names = X.keras_names(self.model)
        back = {twin.tf_name(n): n for n in weights}
        self.torch_name = {n: back[n] for n in self.names}
        tvars = list(self.compiled.trainable_variables)
        index = {id(v): k for k, v in enumerate(self.model.weights)}
        self.train_index = [index[id(v)] for v in tvars]
        optimizer = self.compiled.optimizer

        @tf.function
        def apply(grads: list[Any]) -> None:
            optimizer.apply_gradients(zip(grads, tvars))

        self.apply = apply
        self.batches = [(tf.constant(b.x_tf), tf.constant(b.y)) for b in batches]

    def step(self, t: int) -> dict[str, np.ndarray]:
        x, y = self.batches[t % len(self.batches)]
        grads = self.grad_fn(x, y)
        if self.train_index:
            self.apply([grads[k] for k in self.train_index])
        return {self.names[k]: X.dense_grad(g, self.dtype) for k, g in enumerate(grads) if g is not None}

    def values(self) -> dict[str, np.ndarray]:
        return {n: np.array(v.numpy(), copy=True) for n, v in zip(self.names, self.model.weights)}


class V1Runner(Runner):
    """A tf.compat.v1 graph and session; the train op is ``compiled.minimize(loss, global_step)``.
    The gradients reported for update ``t`` are fetched just before the train op runs, from
    the same variables and batch."""

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
            built = X.build_v1_graph(twin, weights, dtype)
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

    def step(self, t: int) -> dict[str, np.ndarray]:
        feed = self.feeds[t % len(self.feeds)]
        grads = self.session.run(self.grads, feed) if self.grads else []
        self.session.run(self.train_op, feed)
        return {n: X.dense_grad(g, self.dtype) for n, g in zip(self.grad_names, grads)}

    def values(self) -> dict[str, np.ndarray]:
        return {n: np.array(a, copy=True) for n, a in self.session.run(self.variables).items()}

    def global_step_value(self) -> int:
        return int(self.session.run(self.global_step))

    def close(self) -> None:
        self.session.close()


_FLAX_CACHE: dict[str, tuple[Any, Any, Any]] = {}


@contextlib.contextmanager
def jax_dtype_scope(dtype: str) -> Iterator[None]:
    """``jax.enable_x64(True)`` for float64 (thread-local; the process keeps its setting)."""
    if dtype == "float64":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


def _flax_model_and_grad_fn(twin: X.Twin) -> tuple[Any, Any, Any]:
    """The Flax twin, its graphdef and its jitted gradient function, per twin: the forward/
    backward pass is compiled once per model and shared by its scenarios (weights are copied
    in per scenario)."""
    if twin.name not in _FLAX_CACHE:
        import xf_flax as F

        model = F.flax_model(twin)
        graphdef, _ = F.flax_params(twin, model, X.torch_weights(twin.torch_model(seed=0)))
        _FLAX_CACHE[twin.name] = (model, graphdef, F.grad_fn(graphdef))
    return _FLAX_CACHE[twin.name]


class OptaxRunner(Runner):
    """The Flax (``flax.nnx``) twin trained with ``target="optax"``: the parameter state
    ``nnx.state(model, nnx.Param)`` is what lrspec compiles for; gradients by ``jax.grad``
    (jitted once per model), then ``tx.update`` + ``optax.apply_updates`` in one ``jax.jit``
    per scenario (in float64: all of it inside :func:`jax_dtype_scope`)."""

    def __init__(
        self,
        twin: X.Twin,
        spec: Any,
        weights: Mapping[str, np.ndarray],
        batches: list[X.Batch],
        dtype: str = "float32",
        **options: Any,
    ) -> None:
        with jax_dtype_scope(dtype):
            self._init(twin, spec, weights, batches, dtype, options)

    def _init(
        self,
        twin: X.Twin,
        spec: Any,
        weights: Mapping[str, np.ndarray],
        batches: list[X.Batch],
        dtype: str,
        options: Mapping[str, Any],
    ) -> None:
        import jax
        import jax.numpy as jnp
        import optax
        import xf_flax as F

        self.label = "optax"
        self.dtype = dtype
        self._flat = lambda tree: F.flat(tree, dtype)
        model, _, self.grad_fn = _flax_model_and_grad_fn(twin)
        _, self.params = F.flax_params(twin, model, weights, dtype)
        self.compiled = lrspec.compile(spec, self.params, target="optax", **options)
        self.plan = self.compiled.plan
        native, reason = self.compiled.native, self.compiled.native_reason
        self.implementation = "optax transforms" if native else f"lrspec rule ({reason})"
        self.names = list(F.flat(self.params))
        back = {twin.flax_name(n): n for n in weights}
        self.torch_name = {n: back[n] for n in self.names}
        tx = self.compiled.optimizer
        self.state = tx.init(self.params)

        @jax.jit
        def apply(params: Any, state: Any, grads: Any) -> Any:
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self.apply = apply
        self.batches = [(jnp.asarray(b.x_tf), jnp.asarray(b.y.astype(np.int32))) for b in batches]

    def step(self, t: int) -> dict[str, np.ndarray]:
        with jax_dtype_scope(self.dtype):
            x, y = self.batches[t % len(self.batches)]
            grads = self.grad_fn(self.params, x, y)
            self.params, self.state = self.apply(self.params, self.state, grads)
            return self._flat(grads)

    def values(self) -> dict[str, np.ndarray]:
        with jax_dtype_scope(self.dtype):
            return self._flat(self.params)
