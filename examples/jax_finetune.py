"""Fine-tune a tiny CNN in JAX with the per-group learning rates of ``finetune_cnn.yaml``.

The spec gives the convolutional layers (``conv*``) lr 1e-5 and the dense layers (``fc*``)
lr 1e-3, with Adam (torch's update rule). ``lrspec.compile(..., target="optax")`` turns it
into one ``optax.GradientTransformation`` for the parameter pytree; the training step is an
ordinary jitted ``jax.value_and_grad`` + ``tx.update`` + ``optax.apply_updates``.

Run::

    python examples/jax_finetune.py [--steps N]

Needs ``pip install 'lrspec[jax]'`` (jax, optax); no flax: the model is plain JAX functions over
a nested dict of arrays, whose key paths are the parameter names (``conv1.kernel``,
``fc2.bias``, ...), as in a flax ``variables["params"]`` tree.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrspec

SPEC = Path(__file__).resolve().with_name("finetune_cnn.yaml")
IMAGE = 8  # 8x8 grey images
CLASSES = 10
BATCH = 16


def init_params(seed: int = 0) -> dict[str, Any]:
    """conv1 3x3x1x4, conv2 3x3x4x8 (HWIO, 'SAME', each + ReLU + 2x2 max-pool), fc1 32 -> 16
    (ReLU), fc2 16 -> 10. LeCun-normal kernels, zero biases."""
    rng = np.random.default_rng(seed)

    def layer(*shape: int) -> dict[str, Any]:
        fan_in = int(np.prod(shape[:-1]))
        kernel = rng.standard_normal(shape) / np.sqrt(fan_in)
        return {"kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.zeros((shape[-1],), jnp.float32)}

    flat = (IMAGE // 4) * (IMAGE // 4) * 8
    return {"conv1": layer(3, 3, 1, 4), "conv2": layer(3, 3, 4, 8), "fc1": layer(flat, 16), "fc2": layer(16, CLASSES)}


def _conv(x: Any, p: dict[str, Any]) -> Any:
    y = jax.lax.conv_general_dilated(x, p["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(y + p["bias"])


def _pool(x: Any) -> Any:
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def forward(params: dict[str, Any], x: Any) -> Any:
    """Logits of images ``x`` (N, 8, 8, 1)."""
    h = _pool(_conv(x, params["conv1"]))
    h = _pool(_conv(h, params["conv2"]))
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(h @ params["fc1"]["kernel"] + params["fc1"]["bias"])
    return h @ params["fc2"]["kernel"] + params["fc2"]["bias"]


def loss_fn(params: dict[str, Any], x: Any, y: Any) -> Any:
    """Mean softmax cross-entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()


def make_batches(seed: int = 0, count: int = 4) -> list[tuple[Any, Any]]:
    """``count`` synthetic batches: standard-normal images labelled by a fixed random linear
    "teacher" (argmax of 10 projections), so there is something to learn."""
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((IMAGE * IMAGE, CLASSES))
    out = []
    for _ in range(count):
        x = rng.standard_normal((BATCH, IMAGE, IMAGE, 1))
        y = np.argmax(x.reshape(BATCH, -1) @ teacher, axis=1)
        out.append((jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)))
    return out


def train(steps: int = 5, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Train ``steps`` updates; returns ``{"compiled", "params0", "params", "losses", "batches"}``."""
    params0 = init_params(seed)
    compiled = lrspec.compile(SPEC, params0, target="optax")
    tx = compiled.optimizer
    state = tx.init(params0)

    @jax.jit
    def train_step(params: Any, state: Any, x: Any, y: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    batches = make_batches(seed)
    params, losses = params0, []
    for t in range(steps):
        x, y = batches[t % len(batches)]
        params, state, loss = train_step(params, state, x, y)
        losses.append(float(loss))
        if verbose:
            lrs = ", ".join(f"{g} {lr:.0e}" for g, lr in compiled.lrs(t).items())
            print(f"update {t}: loss {losses[-1]:.4f}  lr: {lrs}")
    if verbose:
        print()
        print(compiled.describe(steps))
    return {"compiled": compiled, "params0": params0, "params": params, "losses": losses, "batches": batches}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="updates to run (default 5)")
    args = parser.parse_args(argv)
    train(args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
