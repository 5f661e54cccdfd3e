"""Shared fixtures of the optax target tests (float32, x64 off in this process)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("optax")


SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-2, "weight_decay": 0.01},
    "schedule": {"type": "cosine", "decay_steps": 50},
    "groups": [
        {"name": "head", "params": ["head.*"], "lr_mult": 3.0},
        {"name": "frozen", "params": ["emb.*"], "freeze": True},
        {"name": "late", "params": ["enc.b"], "freeze": {"until_step": 3}},
    ],
}


@pytest.fixture
def params() -> Any:
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    return {
        "enc": {"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32), "b": jnp.zeros((3,), jnp.float32)},
        "head": {"w": jnp.asarray(rng.standard_normal((3, 2)), jnp.float32)},
        "emb": {"table": jnp.asarray(rng.standard_normal((5, 2)), jnp.float32)},
    }
