"""Run in a subprocess with 2 host devices: jitted updates with parameters sharded across them
must equal the unsharded updates and lrspec.reference. Prints one JSON line."""

from __future__ import annotations

import json
import os
from typing import Any

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import lrspec
from lrspec.reference import simulate

SPEC = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 1e-2, "weight_decay": 0.05},
    "schedule": {"type": "warmup", "steps": 3, "then": {"type": "cosine", "decay_steps": 20}},
    "groups": [
        {"name": "head", "params": ["head.*"], "lr_mult": 2.0},
        {"name": "late", "params": ["enc.b"], "freeze": {"until_step": 4}},
        {"name": "frozen", "params": ["emb"], "freeze": True},
    ],
}


def make_step(tx: Any) -> Any:
    def step(p: Any, s: Any, g: Any) -> Any:
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    return jax.jit(step)


def main() -> dict[str, object]:
    devices = jax.devices()
    mesh = Mesh(np.array(devices), ("x",))
    shard = NamedSharding(mesh, PartitionSpec("x"))
    rng = np.random.default_rng(0)
    init = {
        "enc.w": rng.standard_normal((8, 4)),
        "enc.b": rng.standard_normal(8),
        "head.w": rng.standard_normal((4, 2)),
        "emb": rng.standard_normal((6, 2)),
    }
    init = {k: (0.1 * v).astype(np.float32) for k, v in init.items()}
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in init.items()} for _ in range(12)]

    def tree(d: dict[str, np.ndarray], sharded: bool) -> dict[str, object]:
        put = (lambda a: jax.device_put(jnp.asarray(a), shard)) if sharded else jnp.asarray
        return {
            "enc": {"w": put(d["enc.w"]), "b": put(d["enc.b"])},
            "head": {"w": jnp.asarray(d["head.w"])},
            "emb": put(d["emb"]),
        }

    out: dict[str, object] = {"devices": len(devices)}
    results = {}
    plans: dict[str, Any] = {}
    for mode in ("auto", "lrspec"):
        for sharded in (False, True):
            params = tree(init, sharded)
            # auto: without the until_step group, so optax's own transforms carry it (native)
            spec = SPEC if mode == "lrspec" else dict(SPEC, groups=[g for g in SPEC["groups"] if g["name"] != "late"])
            compiled = lrspec.compile(spec, params, target="optax", mode=mode)
            out[f"{mode}_native"] = compiled.native
            tx = compiled.optimizer

            step = make_step(tx)

            state = jax.jit(tx.init)(params)
            p = params
            for g in grads:
                p, state = step(p, state, tree(g, sharded))
            results[(mode, sharded)] = p
            if sharded:
                out[f"{mode}_sharding_kept"] = bool(p["enc"]["w"].sharding.is_equivalent_to(shard, 2)) and bool(
                    state.inner["enc"]["w"]["exp_avg"].sharding.is_equivalent_to(shard, 2) if mode == "lrspec" else True
                )
            plans[mode] = compiled.plan
    for mode in ("auto", "lrspec"):
        ref = simulate(plans[mode], init, grads)[-1]
        a, b = results[(mode, False)], results[(mode, True)]
        flat_a = {"enc.w": a["enc"]["w"], "enc.b": a["enc"]["b"], "head.w": a["head"]["w"], "emb": a["emb"]}
        flat_b = {"enc.w": b["enc"]["w"], "enc.b": b["enc"]["b"], "head.w": b["head"]["w"], "emb": b["emb"]}
        out[f"{mode}_max_diff_sharded_vs_unsharded"] = max(
            float(np.max(np.abs(np.asarray(flat_a[k]) - np.asarray(flat_b[k])))) for k in flat_a
        )
        out[f"{mode}_max_rel_vs_reference"] = max(
            float(np.max(np.abs(np.asarray(flat_b[k], np.float64) - ref[k]))) / float(np.max(np.abs(ref[k] - init[k])))
            for k in flat_b
            if k != "emb"
        )
        out[f"{mode}_frozen_exact"] = bool(np.array_equal(np.asarray(flat_b["emb"]), init["emb"]))
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
