"""``lrspec verify`` for the optax target: synthetic parameters in a flat dict pytree (leaf
names = the plan's names, which are then their canonical names), the compiled transformation,
and a jitted ``tx.update`` + ``optax.apply_updates`` per update.

``options["dtype"]`` (removed before compiling): ``"float32"`` (default) or ``"float64"``.
JAX computes in float64 only with ``jax_enable_x64``; the driver does not flip that process-wide
flag (it changes every other JAX user's default dtypes). In float64 mode it builds the
parameters and state, traces, steps and reads back inside ``jax.enable_x64(True)``, the
thread-local scope of that flag, so the float64 run is exact and the rest of the process keeps
its setting. (``jax.jit`` keys its cache on the flag, so the jitted step is traced under it.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from lrspec.plan import Plan
from lrspec.targets import Array, Target

__all__ = ["OptaxDriver"]


class OptaxDriver:
    """A :class:`lrspec.targets.VerifyDriver` for the optax target."""

    def __init__(self, target: Target, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        import jax
        import jax.numpy as jnp
        import optax

        compile_options = dict(options)
        self.dtype = np.dtype(compile_options.pop("dtype", "float32"))
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype}")
        self._jax = jax
        self._jnp = jnp
        with self._scope():
            # a flat dict: a key "a.b" is one DictKey, so the leaf's canonical name is "a.b"
            self.params: dict[str, Any] = {n: jnp.asarray(np.asarray(init[n], dtype=self.dtype)) for n in plan.names}
            self.compiled = target.compile(plan, self.params, **compile_options)
            tx = self.compiled.optimizer
            self.state = tx.init(self.params)

        def step(params: Any, state: Any, grads: Any) -> Any:
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self._step = jax.jit(step)

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        """``jax.enable_x64(True)`` in float64 mode; nothing in float32 mode."""
        if self.dtype == np.float64:
            with self._jax.enable_x64(True):
                yield
        else:
            yield

    def step(self, grads: Mapping[str, Array]) -> None:
        jnp = self._jnp
        with self._scope():
            g = {n: jnp.asarray(np.asarray(grads[n], dtype=self.dtype)) for n in self.params}
            self.params, self.state = self._step(self.params, self.state, g)

    def values(self) -> dict[str, Array]:
        with self._scope():
            return {n: np.array(v, copy=True) for n, v in self.params.items()}

    def close(self) -> None:
        """Nothing to release."""
