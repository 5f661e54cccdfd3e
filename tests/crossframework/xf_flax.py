"""The Flax (``flax.nnx``) twins of the cross-framework models, for the ``optax`` target.

Each twin is the torch model of :mod:`lrspec_torch.examples` written with ``flax.nnx`` layers
under the same attribute names, so its parameter state (``nnx.state(model, nnx.Param)``) has
the canonical names of :mod:`lrspec_optax.examples` (``conv1.kernel``, ``features.3.bias``,
``blocks.2.norm.scale``, ``embed.embedding``): flax's leaf names, torch's module paths.
``nnx.List`` holds torch's ``nn.Sequential`` / ``nn.ModuleList`` entries at torch's indices
(the activation and pooling entries are plain functions, so ``features.0`` and ``features.3``
are the convolutions, as in torch).

Layouts are Keras's (NHWC inputs, HWIO conv kernels, (in, out) dense kernels, HWC flatten
order), so torch weights are copied with the same conversion as for Keras
(:meth:`xf_twins.Twin.to_tf`); names with :meth:`xf_twins.Twin.flax_name`. The loss is the mean
softmax cross-entropy, as in every other twin. LayerNorm uses the two-pass variance
(``use_fast_variance=False``), torch's formula. Every layer computes in its parameters'
dtype, so the same (abstract) model serves float32 and float64 states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lrspec_torch.examples as E
import numpy as np
import xf_twins as X

__all__ = ["FLAX_BUILDERS", "flat", "flax_model", "flax_params", "grad_fn", "logits_fn"]


def _nnx() -> Any:
    from flax import nnx

    return nnx


def _pool(x: Any) -> Any:
    return _nnx().max_pool(x, (2, 2), strides=(2, 2))


def _relu(x: Any) -> Any:
    return _nnx().relu(x)


def _keep_dtype(args: tuple[Any, ...], dtype: Any = None, inexact: bool = True) -> tuple[Any, ...]:
    """A ``promote_dtype`` that keeps every array's dtype (float32 or float64 parameters alike)."""
    return tuple(args)


def _flatten(x: Any) -> Any:
    return x.reshape(x.shape[0], -1)


def _mnist_cnn(rngs: Any, widths: tuple[int, int, int] = (20, 40, 1024)) -> Any:
    nnx = _nnx()
    c1, c2, hidden = widths

    class MnistCNN(nnx.Module):
        def __init__(self) -> None:
            self.conv1 = nnx.Conv(1, c1, (5, 5), padding="SAME", rngs=rngs)
            self.conv2 = nnx.Conv(c1, c2, (5, 5), padding="SAME", rngs=rngs)
            self.fc1 = nnx.Linear(7 * 7 * c2, hidden, rngs=rngs)
            self.fc2 = nnx.Linear(hidden, 10, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            x = _pool(_relu(self.conv1(x)))
            x = _pool(_relu(self.conv2(x)))
            return self.fc2(_relu(self.fc1(_flatten(x))))

    return MnistCNN()


def _convnet6(rngs: Any) -> Any:
    nnx = _nnx()
    chans = [3, 8, 8, 16, 16, 16]

    class ConvNet6(nnx.Module):
        def __init__(self) -> None:
            for k in range(5):
                setattr(self, f"conv{k + 1}", nnx.Conv(chans[k], chans[k + 1], (3, 3), padding="SAME", rngs=rngs))
            self.fc6 = nnx.Linear(16 * 4 * 4, 10, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            x = _relu(self.conv1(x))
            x = _pool(_relu(self.conv2(x)))
            x = _relu(self.conv3(x))
            x = _pool(_relu(self.conv4(x)))
            x = _relu(self.conv5(x))
            return self.fc6(_flatten(x))

    return ConvNet6()


def _lenet(rngs: Any) -> Any:
    nnx = _nnx()

    class LeNet(nnx.Module):
        def __init__(self) -> None:
            self.features = nnx.List(
                [
                    nnx.Conv(3, 6, (5, 5), padding="VALID", rngs=rngs),
                    _relu,
                    _pool,
                    nnx.Conv(6, 16, (5, 5), padding="VALID", rngs=rngs),
                    _relu,
                    _pool,
                ]
            )
            self.classifier = nnx.List(
                [
                    nnx.Linear(16 * 5 * 5, 120, rngs=rngs),
                    _relu,
                    nnx.Linear(120, 84, rngs=rngs),
                    _relu,
                    nnx.Linear(84, 10, rngs=rngs),
                ]
            )

        def __call__(self, x: Any) -> Any:
            for layer in self.features:
                x = layer(x)
            x = _flatten(x)
            for layer in self.classifier:
                x = layer(x)
            return x

    return LeNet()


def _transformer(rngs: Any) -> Any:
    nnx = _nnx()
    d = E.TRANSFORMER_DIM

    class Block(nnx.Module):
        def __init__(self) -> None:
            self.norm = nnx.LayerNorm(d, epsilon=1e-5, use_fast_variance=False, rngs=rngs)
            self.fc1 = nnx.Linear(d, 2 * d, rngs=rngs)
            self.fc2 = nnx.Linear(2 * d, d, rngs=rngs)

        def __call__(self, h: Any) -> Any:
            return h + self.fc2(_relu(self.fc1(self.norm(h))))

    class TinyTransformer(nnx.Module):
        def __init__(self) -> None:
            # compute in the table's own dtype: flax's default promotes to the dtype the layer
            # was built with (float32), which would round a float64 table
            self.embed = nnx.Embed(E.TRANSFORMER_VOCAB, d, promote_dtype=_keep_dtype, rngs=rngs)
            self.blocks = nnx.List([Block() for _ in range(E.TRANSFORMER_BLOCKS)])
            self.head = nnx.Linear(d, E.TRANSFORMER_CLASSES, rngs=rngs)

        def __call__(self, tokens: Any) -> Any:
            h = self.embed(tokens)
            for block in self.blocks:
                h = block(h)
            return self.head(h.mean(axis=1))

    return TinyTransformer()


FLAX_BUILDERS: dict[str, Callable[[Any], Any]] = {
    "mnist_cnn": _mnist_cnn,
    "mnist_small": lambda rngs: _mnist_cnn(rngs, (4, 8, 32)),
    "convnet6": _convnet6,
    "lenet": _lenet,
    "transformer": _transformer,
}


def flax_model(twin: X.Twin) -> Any:
    """An abstract ``nnx.Module`` twin of ``twin`` (``nnx.eval_shape``: shapes only, no
    random init, which would cost seconds of eager JAX per layer); :func:`flax_params` fills
    it with torch's weights."""
    nnx = _nnx()
    return nnx.eval_shape(lambda: FLAX_BUILDERS[twin.name](nnx.Rngs(0)))


def _leaves(tree: Any) -> dict[str, Any]:
    """The leaves of a state (or nested dict) by canonical name: the nested dict keys of
    ``nnx.to_pure_dict`` joined by ``.`` (list indices as integers). Written here, not taken
    from the optax adapter, so that the twin tests check the adapter's names."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = node

    nnx = _nnx()
    walk("", nnx.to_pure_dict(tree) if isinstance(tree, nnx.State) else tree)
    return out


def flat(tree: Any, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """A parameter (or gradient) state as NumPy copies of ``dtype`` by canonical name."""
    return {n: np.array(a, dtype=dtype, copy=True) for n, a in _leaves(tree).items()}


def flax_params(
    twin: X.Twin, model: Any, weights: Mapping[str, np.ndarray], dtype: Any = np.float32
) -> tuple[Any, Any]:
    """``(graphdef, state)`` of ``model`` (abstract or not) with torch-named, torch-layout
    ``weights`` copied in as ``dtype`` arrays (names by :meth:`xf_twins.Twin.flax_name`,
    layouts by :meth:`xf_twins.Twin.to_tf`); shapes are checked against the model's. A
    float64 state needs ``jax_enable_x64`` (``jax.enable_x64(True)``) wherever it is used."""
    import jax.numpy as jnp

    nnx = _nnx()
    graphdef, state = nnx.split(model, nnx.Param)
    by_flax = {twin.flax_name(n): (n, a) for n, a in weights.items()}
    names = sorted(_leaves(state))
    if names != sorted(by_flax):
        raise AssertionError(f"{twin.name}: Flax names {names} do not mirror torch names {list(weights)}")

    def fill(prefix: str, node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: fill(f"{prefix}.{k}" if prefix else str(k), v) for k, v in node.items()}
        tname, a = by_flax[prefix]
        b = twin.to_tf(tname, a).astype(dtype)
        if b.shape != tuple(node.shape):
            raise AssertionError(f"{twin.name}: {prefix} has shape {node.shape}, torch's {tname} gives {b.shape}")
        return jnp.asarray(b)

    pure = fill("", nnx.to_pure_dict(state))
    nnx.replace_by_pure_dict(state, pure)
    return graphdef, state


def _loss(graphdef: Any, params: Any, x: Any, y: Any) -> Any:
    import optax

    logits = _nnx().merge(graphdef, params)(x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def logits_fn(graphdef: Any) -> Callable[[Any, Any], Any]:
    """``(params, x) -> logits`` (not jitted)."""
    nnx = _nnx()
    return lambda params, x: nnx.merge(graphdef, params)(x)


def grad_fn(graphdef: Any) -> Callable[[Any, Any, Any], Any]:
    """``jax.jit(jax.grad(mean cross-entropy))`` over the parameter state: ``(params, x, y)
    -> grads`` (a state of the same structure)."""
    import jax

    return jax.jit(jax.grad(lambda p, x, y: _loss(graphdef, p, x, y)))
