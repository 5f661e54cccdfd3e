"""``lrspec verify`` for the optax target: synthetic float32 parameters in a flat dict pytree
(leaf names = the plan's names, which are then their canonical names), the compiled
transformation, and a jitted ``tx.update`` + ``optax.apply_updates`` per update."""

from __future__ import annotations

from collections.abc import Mapping
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

        self._jnp = jnp
        # a flat dict: a key "a.b" is one DictKey, so the leaf's canonical name is "a.b"
        self.params: dict[str, Any] = {n: jnp.asarray(np.asarray(init[n], dtype=np.float32)) for n in plan.names}
        self.compiled = target.compile(plan, self.params, **dict(options))
        tx = self.compiled.optimizer
        self.state = tx.init(self.params)

        def step(params: Any, state: Any, grads: Any) -> Any:
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self._step = jax.jit(step)

    def step(self, grads: Mapping[str, Array]) -> None:
        jnp = self._jnp
        g = {n: jnp.asarray(np.asarray(grads[n], dtype=np.float32)) for n in self.params}
        self.params, self.state = self._step(self.params, self.state, g)

    def values(self) -> dict[str, Array]:
        return {n: np.array(v, copy=True) for n, v in self.params.items()}

    def close(self) -> None:
        """Nothing to release."""
