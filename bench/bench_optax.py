"""Benchmark: the optax target's per-parameter lrs against hand-written optax.

Run: ``.venv/bin/python bench/bench_optax.py``. A ~5M-parameter model of 199 leaves (an
embedding, 98 dense layers ``layers.{i}.kernel|bias`` of 226x226, a head), float32 on CPU.
Each measurement is one jitted ``tx.update`` + ``optax.apply_updates`` (parameters and state
donated, as in a training loop); times are CPU time (``time.process_time``; wall clock is
unreliable on a shared machine) per step, the median of ``--repeats`` rounds of ``--steps``
steps, the candidates of one comparison interleaved round by round.

* (a) a 4-group spec (embedding lr x0.1, head lr x10, biases without weight decay, the rest)
  with adam, against ``optax.adam(1e-3)`` (one lr): target <= 1.05;
* (b) layer decay over the 98 layers (98 lrs) against a hand-written
  ``optax.partition`` with one label (one ``optax.adam``) per layer: should be far below 1;
* (c) the same layer decay against ``optax.adam`` with one lr: target <= 1.10.

Each lrspec case is timed with ``mode="auto"`` (optax's transforms: these plans are exact
there) and ``mode="lrspec"`` (lrspec's own fused rule). Not a test: it exits 1 when (a) or (c)
exceed their targets by more than 10% more (noise).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrspec

LAYERS = 98
WIDTH = 226
VOCAB = 1000


def model() -> dict[str, Any]:
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> Any:
        return jnp.asarray((rng.standard_normal(shape) * 0.02).astype(np.float32))

    return {
        "embed": {"embedding": arr(VOCAB, WIDTH)},
        "layers": [{"kernel": arr(WIDTH, WIDTH), "bias": arr(WIDTH)} for _ in range(LAYERS)],
        "head": {"kernel": arr(WIDTH, 10), "bias": arr(10)},
    }


FOUR_GROUPS = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3},
    "groups": [
        {"name": "embed", "params": ["embed.*"], "lr_mult": 0.1},
        {"name": "head", "params": ["head.*"], "lr_mult": 10.0},
        {"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0},
    ],
}

LAYER_DECAY = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3},
    "layer_decay": {"rate": 0.95, "layers": ["layers.{i}.*"]},
}


def step_fn(tx: Any) -> Callable[..., Any]:
    def step(params: Any, state: Any, grads: Any) -> Any:
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def layer_partition(params: Any) -> Any:
    """The hand-written alternative: one optax.adam per layer, chosen by label."""
    lrs = {f"layer{i}": 1e-3 * 0.95 ** (LAYERS - 1 - i) for i in range(LAYERS)}
    transforms = {k: optax.adam(v) for k, v in lrs.items()}
    transforms["rest"] = optax.adam(1e-3)
    labels = {
        "embed": {"embedding": "rest"},
        "layers": [{"kernel": f"layer{i}", "bias": f"layer{i}"} for i in range(LAYERS)],
        "head": {"kernel": "rest", "bias": "rest"},
    }
    return optax.partition(transforms, labels)


def bench(candidates: dict[str, Any], steps: int, repeats: int) -> dict[str, float]:
    """CPU seconds per step, median over rounds, candidates interleaved."""
    base = model()
    grads = jax.tree.map(lambda p: jnp.full_like(p, 1e-3), base)
    runs = {}
    for name, tx in candidates.items():
        params = jax.tree.map(jnp.copy, base)
        state = tx.init(params)
        step = step_fn(tx)
        params, state = step(params, state, grads)  # compile
        jax.block_until_ready(params)
        runs[name] = [step, params, state]
    times: dict[str, list[float]] = {n: [] for n in candidates}
    for _ in range(repeats):
        for name, run in runs.items():
            step, params, state = run
            t0 = time.process_time()
            for _ in range(steps):
                params, state = step(params, state, grads)
            jax.block_until_ready(params)
            times[name].append((time.process_time() - t0) / steps)
            run[1], run[2] = params, state
    return {n: statistics.median(v) for n, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cases", default="abc", help="which comparisons to run (default: abc)")
    args = ap.parse_args()
    params = model()
    n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    print(f"model: {len(jax.tree.leaves(params))} leaves, {n / 1e6:.2f}M parameters, float32, {jax.devices()[0]}")

    def compiled(spec: Any, mode: str) -> Any:
        return lrspec.compile(spec, params, target="optax", mode=mode).optimizer

    cases = {
        "a": ("4-group spec vs optax.adam (one lr)", FOUR_GROUPS, {"baseline": optax.adam(1e-3)}, 1.05),
        "b": (
            "layer decay (98 lrs) vs optax.partition (98 labels)",
            LAYER_DECAY,
            {"baseline": layer_partition(params)},
            None,
        ),
        "c": ("layer decay (98 lrs) vs optax.adam (one lr)", LAYER_DECAY, {"baseline": optax.adam(1e-3)}, 1.10),
    }
    failed = False
    for key, (title, spec, base, target) in cases.items():
        if key not in args.cases:
            continue
        cands = dict(base, auto=compiled(spec, "auto"), lrspec=compiled(spec, "lrspec"))
        t = bench(cands, args.steps, args.repeats)
        r_auto, r_own = t["auto"] / t["baseline"], t["lrspec"] / t["baseline"]
        print(
            f"({key}) {title}: baseline {t['baseline'] * 1e3:.2f} ms, mode=auto {t['auto'] * 1e3:.2f} ms "
            f"(ratio {r_auto:.3f}), mode=lrspec {t['lrspec'] * 1e3:.2f} ms (ratio {r_own:.3f})"
            + (f"  [target <= {target}]" if target else "")
        )
        if target is not None and min(r_auto, r_own) > target * 1.1:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
