"""Scenario 9: ``examples/vit_llrd_timm.yaml`` (timm's ViT recipe: AdamW, layer-wise lr decay
0.65 with the final norm joining the last block and the head one more layer, no weight decay
for ``ndim <= 1`` and the tokens) trained on a tiny timm-style ViT (:mod:`xf_vit`: depth 2, dim
16, 2 heads, 8x8 images in 4x4 patches) in torch, Keras, tf-v1 and optax, in lockstep for
:data:`xf_harness.STEPS` (50) updates, with the suite's comparisons (:mod:`xf_harness`):

* float32: every target against the reference fed its own gradients (``1e-4 * moved + k *
  2^-24 * max|p|``) and against torch (1e-4 norm-relative); the measured maxima are printed;
* float64 (the proof): ``1e-10 * moved + k * 2^-53 * max|p|`` and 1e-10 between targets;
* every target resolves the spec to the same groups as torch, and torch's per-parameter lr and
  weight decay are timm's: the formula ``1e-3 * 0.65 ** (layer_max - layer)`` written below,
  and (when timm is installed) timm's own ``param_groups_layer_decay`` on a real timm ViT of
  the same size, which takes the twin's state dict as it is and computes the same logits.

tests/test_layer_decay_timm.py checks the spec against timm for other depths and variants
(depth 1/2/3/12, no class token, layer scale + register tokens). Cost (2-core machine, load 4-6):
float32 18-24 s, float64 15-25 s (mostly tracing/XLA compilation: Keras and optax ~4-10 s of
CPU each, v1 graph ~6 s), the timm check ~1 s; hence depth 2 and 50 updates in both modes.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xf_harness as H
import xf_twins as X
import xf_vit as V
import xf_vit_run as R

pytestmark = [pytest.mark.usefixtures("xf_frameworks"), pytest.mark.slow]

SCENARIO = H.Scenario("9-vit_llrd_timm", "vit_llrd_timm.yaml", V.VIT_NAME)
BASE_LR, RATE, WEIGHT_DECAY = 1e-3, 0.65, 0.05  # examples/vit_llrd_timm.yaml
SHIMS = Path(__file__).resolve().parents[1] / "shims"


def timm_layer(name: str) -> int:
    """timm's layer id of a parameter of the twin (``VisionTransformer.group_matcher`` through
    ``param_groups_layer_decay``): embeddings 0, ``blocks.i`` i + 1, the final norm joins the
    last block (``MATCH_PREV_GROUP``), the head one more (layer_max = depth + 1)."""
    if name in ("cls_token", "pos_embed") or name.startswith("patch_embed."):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return V.DEPTH if name.startswith("norm.") else V.DEPTH + 1


def timm_lr(name: str) -> float:
    return BASE_LR * math.pow(RATE, V.DEPTH + 1 - timm_layer(name))


def timm_weight_decay(name: str, shape: tuple[int, ...]) -> float:
    """No decay for ``ndim <= 1`` (``weight_decay_exclude_1d``) and ``no_weight_decay()``."""
    return 0.0 if len(shape) <= 1 or name in ("cls_token", "pos_embed") else WEIGHT_DECAY


def _run(dtype: str, xf_record: Callable[[str], None]) -> dict[str, Any]:
    res = R.run_vit_scenario(SCENARIO, with_optax=H.optax_available(), dtype=dtype, gradient_scale=dtype == "float32")
    tag = SCENARIO.id + (" f64" if dtype == "float64" else "")
    lines = [
        f"{tag:<32} {label:<18} cross {st.cross_rel:.1e} (elementwise {st.cross_max_rel:.1e}, "
        f"abs {st.cross_abs:.1e})  ref {st.ref_rel_final:.1e} of moved, budget {st.ref_budget:.2f}"
        for label, st in res["stats"].items()
    ]
    if res["optax_impl"]:
        lines.append(f"{tag:<32} optax              built with {res['optax_impl']}")
    else:
        lines.append(f"{tag:<32} optax              not run: jax, optax or flax not installed")
    if res["refusal"]:
        lines.append(f"{tag:<32} tf-gradient-scale  refused: {res['refusal'].splitlines()[0][:90]}")
    b = res["bounds"]
    lines.append(f"{tag:<32} (bounds ref {b.ref:g}, cross {b.cross:g}; {H.STEPS} updates; {res['seconds']:.1f} s)")
    for line in lines:
        xf_record(line)
    print("\n".join(lines))

    failures = [f for st in res["stats"].values() for f in st.failures]
    assert not failures, "\n".join(failures[:20])
    assert set(res["stats"]) >= {"torch", "tf", "tf-v1"}
    assert res["v1_global_step"] == H.STEPS
    # every parameter trains (nothing is frozen) and moved: the comparison is not vacuous
    assert all(st.ref_rel_final > 0 for st in res["stats"].values())
    _check_plans(res)
    return res


def _check_plans(res: dict[str, Any]) -> None:
    """Torch's plan gives every parameter timm's lr and weight decay; every target's plan has
    the same groups (names, lr, weight decay, freezes, parameters mapped to torch names)."""
    torch_plan = res["plans"]["torch"]
    shapes = {n: a.shape for n, a in X.torch_weights(V.VIT.torch_model(seed=0)).items()}
    assert set(torch_plan.names) == set(shapes)
    for name, shape in shapes.items():
        group = torch_plan.group_of(name)
        assert group.lr == pytest.approx(timm_lr(name), rel=1e-15, abs=0), name
        assert group.weight_decay == timm_weight_decay(name, shape), name
        assert not group.frozen and group.frozen_until is None, name
    assert len({torch_plan.group_of(n).lr for n in shapes}) == V.DEPTH + 2  # embeddings, blocks, head

    def groups(label: str) -> dict[str, tuple[object, ...]]:
        to_torch = res["torch_names"][label]
        return {
            g.name: (g.lr, g.weight_decay, g.frozen, g.frozen_until, sorted(to_torch[n] for n in g.params))
            for g in res["plans"][label].groups
        }

    for label in res["plans"]:
        assert groups(label) == groups("torch"), label


def test_vit_llrd_timm_float32(xf_record: Callable[[str], None]) -> None:
    res = _run("float32", xf_record)
    assert res["bounds"] == H.Bounds(1e-4, 2.0**-24, 1e-4)
    # AdamW with per-layer lrs: gradient scaling is not exact, so the compiler refuses it
    assert "tf-gradient-scale" not in res["stats"]
    assert "gradient-scale" in res["refusal"] and "default" in res["refusal"], res["refusal"]


def test_vit_llrd_timm_float64_proof(xf_record: Callable[[str], None]) -> None:
    res = _run("float64", xf_record)
    assert res["bounds"] == H.Bounds(1e-10, 2.0**-53, 1e-10)


def _timm() -> Any:
    """timm, with lrspec's torchvision test shim when the installed torchvision cannot load
    (as tests/test_layer_decay_timm.py does)."""
    try:
        importlib.import_module("torchvision")
    except Exception:
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.path.insert(0, str(SHIMS))
    return pytest.importorskip("timm")


def test_vit_twin_is_timms_vit_and_the_plan_gives_timms_scales() -> None:
    """A real ``timm`` VisionTransformer of the twin's size has the twin's parameter names and
    shapes, takes its state dict unchanged and computes the same logits (float64, 1e-12); the
    spec's torch plan on the twin gives each parameter ``lr = 1e-3 * lr_scale`` and the weight
    decay of timm's own ``param_groups_layer_decay`` (no_weight_decay_list =
    ``model.no_weight_decay()``)."""
    import torch

    import lrspec

    _timm()
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    reference = VisionTransformer(**V.VIT_TIMM_KWARGS).double().eval()
    twin = V.VIT.torch_model(seed=0).double()
    assert [(n, tuple(p.shape)) for n, p in reference.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in twin.named_parameters()
    ]
    reference.load_state_dict(twin.state_dict(), strict=True)
    x = torch.from_numpy(V.VIT.data(seed=1, dtype=np.float64)[0].x_torch)
    with torch.no_grad():
        want, got = reference(x).numpy(), twin(x).numpy()
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()

    groups = importlib.import_module("timm.optim").param_groups_layer_decay(
        reference,
        weight_decay=WEIGHT_DECAY,
        layer_decay=RATE,
        no_weight_decay_list=reference.no_weight_decay(),
    )
    names = {id(p): n for n, p in reference.named_parameters()}
    expected = {names[id(p)]: (g["lr_scale"], g["weight_decay"]) for g in groups for p in g["params"]}
    plan = lrspec.compile(lrspec.load(SCENARIO.path), twin, target="torch").plan
    assert set(expected) == set(plan.names)
    for name, (scale, wd) in expected.items():
        assert plan.group_of(name).lr == pytest.approx(BASE_LR * scale, rel=1e-15, abs=0), name
        assert plan.group_of(name).weight_decay == wd, name
        assert timm_lr(name) == pytest.approx(BASE_LR * scale, rel=1e-15, abs=0), name  # the formula above
