"""A tiny timm-style Vision Transformer twin (torch, Keras 3, tf.compat.v1 graph, Flax nnx) for
the cross-framework scenario of ``examples/vit_llrd_timm.yaml``.

The torch model has timm's ``VisionTransformer`` parameter names and computation
(``timm.models.vision_transformer``, ``global_pool="token"``, ``class_token=True``,
``qkv_bias=False``, no layer scale, LayerNorm eps 1e-6, exact-erf GELU)::

    cls_token (1, 1, D), pos_embed (1, N + 1, D), patch_embed.proj.{weight, bias} (a P x P conv,
    stride P), blocks.{i}.{norm1, attn.proj, norm2, mlp.fc1, mlp.fc2}.{weight, bias},
    blocks.{i}.attn.qkv.weight, norm.{weight, bias}, head.{weight, bias}

    x = patch_embed(image).flatten(2).transpose(1, 2)        # (B, N, D), patches row-major
    x = cat(cls_token, x) + pos_embed
    x = x + attn(norm1(x)); x = x + mlp(norm2(x))           # per block
    logits = head(norm(x)[:, 0])
    attn(z) = proj(softmax((q / sqrt(d_head)) k^T) v), q, k, v = split(qkv(z)) per head
    mlp(z) = fc2(gelu(fc1(z))),  gelu(h) = h / 2 * (1 + erf(h / sqrt(2)))

``qkv_bias=False`` (timm's default is True; BEiT/EVA-style ViTs drop the key bias too): the
key bias has a gradient of exactly zero in exact arithmetic (softmax is invariant to adding
``q . b_k`` to a whole row of scores), so in float32 each framework's roundoff (~1e-9) is all
there is, and AdamW's step ``lr * m / (sqrt(v) + eps)`` with eps 1e-8 turns it into
framework-specific steps of up to ~lr: measured with the bias (depth 3), ``attn.qkv.bias`` differed from
torch by 1.9e-4 (norm-relative) after the first update and 1.8e-3 after 50 in Keras, tf-v1 and
optax alike, while every target matched the reference fed its own gradients (budget 0.51).
(``test_xf_vit.py`` proves that it is timm's function: a real timm ViT of the same size takes
its state dict as it is and gives the same logits.) The Keras, v1 and Flax twins hold the same
parameters under the canonical names of the other twins (:mod:`xf_twins`): Keras/v1
``blocks.0.norm1.gamma|beta``, ``blocks.0.attn.qkv.kernel``, ``patch_embed.proj.kernel``;
Flax ``blocks.0.norm1.scale|bias``; ``cls_token`` and ``pos_embed`` everywhere. Layouts are the
suite's (:meth:`xf_twins.Twin.to_tf`: conv OIHW -> HWIO, dense (out, in) -> (in, out), the
tokens as they are). The Keras model is subclassed and owns ``cls_token``/``pos_embed`` itself
(so their canonical name has no layer prefix); its sublayers are built outside the model's name
scope, so every ``variable.path`` is the canonical name (``blocks.0/attn/qkv/kernel``).
Keras and v1 write GELU as ``0.5 * h * (1 + erf(h * sqrt(1/2)))`` (torch's formula): TF's fused
``tf.nn.gelu(approximate=False)`` (also behind ``keras.activations.gelu`` on the TF backend) is
off by 5e-9 in float64 (measured on [-3, 3]; ``tf.math.erf`` is exact to 2e-16), which alone
would fail the 1e-10 float64 proof.

Importing this module registers the twin as ``vit_tiny`` in ``xf_twins.SMALL_TWINS`` and
``xf_flax.FLAX_BUILDERS`` (the harness looks twins up by name there); it imports no framework.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import xf_flax as F
import xf_twins as X

__all__ = ["VIT", "VIT_NAME", "VIT_TIMM_KWARGS", "VitTwin", "vit_keras", "vit_torch"]

VIT_NAME = "vit_tiny"
IMG = 8
PATCH = 4
CHANNELS = 3
DIM = 16
DEPTH = 2
HEADS = 2
MLP = 2 * DIM
CLASSES = 5
EPS = 1e-6
TOKENS = (IMG // PATCH) ** 2 + 1  # patches + the class token
HEAD_DIM = DIM // HEADS
SCALE = HEAD_DIM**-0.5
SQRT_HALF = math.sqrt(0.5)

VIT_TIMM_KWARGS: dict[str, Any] = {
    "img_size": IMG,
    "patch_size": PATCH,
    "in_chans": CHANNELS,
    "num_classes": CLASSES,
    "embed_dim": DIM,
    "depth": DEPTH,
    "num_heads": HEADS,
    "mlp_ratio": MLP / DIM,
    "qkv_bias": False,
}
"""``timm.models.vision_transformer.VisionTransformer`` keyword arguments of the same network."""

_NORM_STEM = re.compile(r"(?:.*\.)?norm\d*")


def vit_torch(seed: int | None = 0) -> Any:
    """The torch twin (torch's default init for conv/linear/norm; tokens ``N(0, 0.02^2)``)."""
    import torch
    from torch import nn

    if seed is not None:
        torch.manual_seed(seed)

    class PatchEmbed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Conv2d(CHANNELS, DIM, PATCH, stride=PATCH)

        def forward(self, x: Any) -> Any:
            return self.proj(x).flatten(2).transpose(1, 2)

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(DIM, 3 * DIM, bias=False)
            self.proj = nn.Linear(DIM, DIM)

        def forward(self, x: Any) -> Any:
            b, n, c = x.shape
            q, k, v = self.qkv(x).reshape(b, n, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4).unbind(0)
            attn = ((q * SCALE) @ k.transpose(-2, -1)).softmax(dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))

    class Mlp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(DIM, MLP)
            self.fc2 = nn.Linear(MLP, DIM)

        def forward(self, x: Any) -> Any:
            return self.fc2(torch.nn.functional.gelu(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1 = nn.LayerNorm(DIM, eps=EPS)
            self.attn = Attention()
            self.norm2 = nn.LayerNorm(DIM, eps=EPS)
            self.mlp = Mlp()

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class TinyViT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, DIM))
            self.pos_embed = nn.Parameter(0.02 * torch.randn(1, TOKENS, DIM))
            self.patch_embed = PatchEmbed()
            self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
            self.norm = nn.LayerNorm(DIM, eps=EPS)
            self.head = nn.Linear(DIM, CLASSES)

        def forward(self, x: Any) -> Any:
            x = self.patch_embed(x)
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x)[:, 0])

    return TinyViT()


def vit_keras(seed: int | None = 0) -> Any:
    """The Keras twin (input (N, 8, 8, 3)), weights of ``keras.config.floatx()``."""
    import keras
    from keras import ops

    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    # every layer gets floatx explicitly: a layer without ``dtype`` takes the global dtype
    # policy, which Keras fixes at the first layer built in the process (float32 after any
    # float32 model) and ``set_floatx`` does not change
    dt = keras.config.floatx()

    class PatchEmbed(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name=name, dtype=dt)
            self.proj = layers.Conv2D(DIM, PATCH, strides=PATCH, padding="valid", name="proj", dtype=dt)

        def build(self, input_shape: Any) -> None:
            self.proj.build(input_shape)

        def call(self, x: Any) -> Any:
            return ops.reshape(self.proj(x), (-1, TOKENS - 1, DIM))

    class Attention(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name=name, dtype=dt)
            self.qkv = layers.Dense(3 * DIM, use_bias=False, name="qkv", dtype=dt)
            self.proj = layers.Dense(DIM, name="proj", dtype=dt)

        def build(self, input_shape: Any) -> None:
            self.qkv.build(input_shape)
            self.proj.build(input_shape)

        def call(self, x: Any) -> Any:
            qkv = ops.transpose(ops.reshape(self.qkv(x), (-1, TOKENS, 3, HEADS, HEAD_DIM)), (2, 0, 3, 1, 4))
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = ops.softmax(ops.matmul(q * SCALE, ops.transpose(k, (0, 1, 3, 2))), axis=-1)
            return self.proj(ops.reshape(ops.transpose(ops.matmul(attn, v), (0, 2, 1, 3)), (-1, TOKENS, DIM)))

    class Mlp(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name=name, dtype=dt)
            self.fc1 = layers.Dense(MLP, name="fc1", dtype=dt)
            self.fc2 = layers.Dense(DIM, name="fc2", dtype=dt)

        def build(self, input_shape: Any) -> None:
            self.fc1.build(input_shape)
            self.fc2.build((*input_shape[:-1], MLP))

        def call(self, x: Any) -> Any:
            h = self.fc1(x)
            return self.fc2(0.5 * h * (1.0 + ops.erf(h * SQRT_HALF)))

    class Block(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name=name, dtype=dt)
            self.norm1 = layers.LayerNormalization(epsilon=EPS, name="norm1", dtype=dt)
            self.attn = Attention("attn")
            self.norm2 = layers.LayerNormalization(epsilon=EPS, name="norm2", dtype=dt)
            self.mlp = Mlp("mlp")

        def build(self, input_shape: Any) -> None:
            for layer in (self.norm1, self.attn, self.norm2, self.mlp):
                layer.build(input_shape)

        def call(self, x: Any) -> Any:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class TinyViT(keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(name="vit", dtype=dt)
            # created outside any name scope: paths (and canonical names) have no prefix
            self.cls_token = keras.Variable(np.zeros((1, 1, DIM)), dtype=dt, name="cls_token")
            self.pos_embed = keras.Variable(np.zeros((1, TOKENS, DIM)), dtype=dt, name="pos_embed")
            self.patch_embed = PatchEmbed("patch_embed")
            self.blocks = [Block(f"blocks.{i}") for i in range(DEPTH)]
            self.norm = layers.LayerNormalization(epsilon=EPS, name="norm", dtype=dt)
            self.head = layers.Dense(CLASSES, name="head", dtype=dt)

        def call(self, x: Any) -> Any:
            h = self.patch_embed(x)
            cls = ops.broadcast_to(self.cls_token, (ops.shape(h)[0], 1, DIM))
            h = ops.concatenate([cls, h], axis=1) + self.pos_embed
            for block in self.blocks:
                h = block(h)
            return self.head(self.norm(h)[:, 0])

    model = TinyViT()
    # built here, outside the model's name scope (a call would build them inside it)
    model.patch_embed.build((None, IMG, IMG, CHANNELS))
    for block in model.blocks:
        block.build((None, TOKENS, DIM))
    model.norm.build((None, TOKENS, DIM))
    model.head.build((None, DIM))
    model.built = True
    return model


def _v1_dense(h: Any, v: Mapping[str, Any], name: str, bias: bool = True) -> Any:
    """``h @ kernel (+ bias)`` over the last axis of a rank-3 ``h`` (as a 2-D matmul)."""
    import tensorflow as tf

    kernel = v[f"{name}.kernel"]
    y = tf.matmul(tf.reshape(h, [-1, h.shape[-1]]), kernel)
    if bias:
        y = y + v[f"{name}.bias"]
    return tf.reshape(y, [-1, h.shape[1], kernel.shape[-1]])


def _v1_norm(h: Any, v: Mapping[str, Any], name: str) -> Any:
    import tensorflow as tf

    mean, var = tf.nn.moments(h, axes=[-1], keepdims=True)
    return (h - mean) * tf.math.rsqrt(var + EPS) * v[f"{name}.gamma"] + v[f"{name}.beta"]


def _vit_v1(x: Any, v: Mapping[str, Any]) -> Any:
    """The forward pass as raw TF ops (NHWC images; ``v`` by Keras canonical names)."""
    import tensorflow as tf

    h = tf.nn.conv2d(x, v["patch_embed.proj.kernel"], strides=PATCH, padding="VALID") + v["patch_embed.proj.bias"]
    h = tf.reshape(h, [-1, TOKENS - 1, DIM])
    cls = tf.broadcast_to(v["cls_token"], tf.stack([tf.shape(h)[0], 1, DIM]))
    h = tf.concat([cls, h], axis=1) + v["pos_embed"]
    for i in range(DEPTH):
        b = f"blocks.{i}"
        qkv = tf.transpose(
            tf.reshape(
                _v1_dense(_v1_norm(h, v, f"{b}.norm1"), v, f"{b}.attn.qkv", bias=False),
                [-1, TOKENS, 3, HEADS, HEAD_DIM],
            ),
            [2, 0, 3, 1, 4],
        )
        attn = tf.nn.softmax(tf.matmul(qkv[0] * SCALE, qkv[1], transpose_b=True), axis=-1)
        out = tf.reshape(tf.transpose(tf.matmul(attn, qkv[2]), [0, 2, 1, 3]), [-1, TOKENS, DIM])
        h = h + _v1_dense(out, v, f"{b}.attn.proj")
        z = _v1_dense(_v1_norm(h, v, f"{b}.norm2"), v, f"{b}.mlp.fc1")
        z = 0.5 * z * (1.0 + tf.math.erf(z * SQRT_HALF))
        h = h + _v1_dense(z, v, f"{b}.mlp.fc2")
    cls_out = _v1_norm(h, v, "norm")[:, 0]
    return tf.matmul(cls_out, v["head.kernel"]) + v["head.bias"]


def _vit_flax(rngs: Any) -> Any:
    """The Flax nnx twin: the torch module tree (``nnx.List`` of blocks), Keras layouts."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    def norm() -> Any:
        return nnx.LayerNorm(DIM, epsilon=EPS, use_fast_variance=False, rngs=rngs)

    class PatchEmbed(nnx.Module):
        def __init__(self) -> None:
            self.proj = nnx.Conv(CHANNELS, DIM, (PATCH, PATCH), strides=(PATCH, PATCH), padding="VALID", rngs=rngs)

        def __call__(self, x: Any) -> Any:
            return self.proj(x).reshape(x.shape[0], TOKENS - 1, DIM)

    class Attention(nnx.Module):
        def __init__(self) -> None:
            self.qkv = nnx.Linear(DIM, 3 * DIM, use_bias=False, rngs=rngs)
            self.proj = nnx.Linear(DIM, DIM, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            b = x.shape[0]
            qkv = self.qkv(x).reshape(b, TOKENS, 3, HEADS, HEAD_DIM).transpose(2, 0, 3, 1, 4)
            attn = jax.nn.softmax((qkv[0] * SCALE) @ qkv[1].transpose(0, 1, 3, 2), axis=-1)
            return self.proj((attn @ qkv[2]).transpose(0, 2, 1, 3).reshape(b, TOKENS, DIM))

    class Mlp(nnx.Module):
        def __init__(self) -> None:
            self.fc1 = nnx.Linear(DIM, MLP, rngs=rngs)
            self.fc2 = nnx.Linear(MLP, DIM, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            return self.fc2(jax.nn.gelu(self.fc1(x), approximate=False))

    class Block(nnx.Module):
        def __init__(self) -> None:
            self.norm1 = norm()
            self.attn = Attention()
            self.norm2 = norm()
            self.mlp = Mlp()

        def __call__(self, x: Any) -> Any:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class TinyViT(nnx.Module):
        def __init__(self) -> None:
            self.cls_token = nnx.Param(jnp.zeros((1, 1, DIM)))
            self.pos_embed = nnx.Param(jnp.zeros((1, TOKENS, DIM)))
            self.patch_embed = PatchEmbed()
            self.blocks = nnx.List([Block() for _ in range(DEPTH)])
            self.norm = norm()
            self.head = nnx.Linear(DIM, CLASSES, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            h = self.patch_embed(x)
            cls = jnp.broadcast_to(self.cls_token[...], (h.shape[0], 1, DIM))
            h = jnp.concatenate([cls, h], axis=1) + self.pos_embed[...]
            for block in self.blocks:
                h = block(h)
            return self.head(self.norm(h)[:, 0])

    return TinyViT()


class VitTwin(X.Twin):
    """:class:`xf_twins.Twin` with timm's norm names (``norm1``/``norm2``/``norm`` -> Keras
    ``gamma``/``beta``, Flax ``scale``/``bias``) and the ViT's v1 forward pass."""

    def tf_name(self, torch_name: str) -> str:
        stem, _, leaf = torch_name.rpartition(".")
        if _NORM_STEM.fullmatch(stem):
            return f"{stem}.{ {'weight': 'gamma', 'bias': 'beta'}[leaf] }"
        return f"{stem}.kernel" if leaf == "weight" else torch_name

    def flax_name(self, torch_name: str) -> str:
        stem, _, leaf = torch_name.rpartition(".")
        if _NORM_STEM.fullmatch(stem):
            return f"{stem}.{ {'weight': 'scale', 'bias': 'bias'}[leaf] }"
        return f"{stem}.kernel" if leaf == "weight" else torch_name

    def v1_logits(self, x: Any, variables: Mapping[str, Any]) -> Any:
        return _vit_v1(x, variables)


VIT = VitTwin(VIT_NAME, vit_torch, vit_keras, (CHANNELS, IMG, IMG), CLASSES)
"""The ViT twin (image input (3, 8, 8) in torch layout; 5 classes)."""

X.SMALL_TWINS[VIT_NAME] = VIT
F.FLAX_BUILDERS[VIT_NAME] = _vit_flax
