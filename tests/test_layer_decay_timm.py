"""timm-style layer decay: examples/vit_llrd_timm.yaml gives exactly timm's
``timm.optim.param_groups_layer_decay`` lr scale and weight decay for every parameter of real
timm models (ViTs of several depths, with and without class token; a ConvNeXt with its
per-stage spec), computed by timm itself."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import lrspec  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]  # importing timm takes ~10 s

ROOT = Path(__file__).resolve().parents[1]
SHIMS = Path(__file__).resolve().parent / "shims"


def _timm() -> Any:
    """timm, with lrspec's torchvision test shim when the installed torchvision cannot load
    (as tests/integrations/_torch_integration.py does)."""
    try:
        importlib.import_module("torchvision")
    except Exception:
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.path.insert(0, str(SHIMS))
    return pytest.importorskip("timm")


def _timm_scales(model: Any, weight_decay: float, layer_decay: float, no_wd: Any) -> dict[str, tuple[float, float]]:
    """name -> (lr_scale, weight_decay) from timm's own param_groups_layer_decay."""
    param_groups_layer_decay = importlib.import_module("timm.optim").param_groups_layer_decay
    names = {id(p): n for n, p in model.named_parameters()}
    out: dict[str, tuple[float, float]] = {}
    for group in param_groups_layer_decay(
        model, weight_decay=weight_decay, layer_decay=layer_decay, no_weight_decay_list=no_wd
    ):
        for p in group["params"]:
            out[names[id(p)]] = (group["lr_scale"], group["weight_decay"])
    return out


def _check(model: Any, spec: lrspec.Spec, no_wd: Any) -> None:
    assert spec.layer_decay is not None
    params = {n: tuple(p.shape) for n, p in model.named_parameters()}
    plan = lrspec.resolve(spec, params)
    expected = _timm_scales(model, spec.optimizer.weight_decay, spec.layer_decay.rate, no_wd)
    assert set(expected) == set(params)
    for name, (scale, wd) in expected.items():
        group = plan.group_of(name)
        assert group.lr == pytest.approx(spec.optimizer.lr * scale, rel=1e-15, abs=0), name
        assert group.weight_decay == wd, name


@pytest.fixture(scope="module")
def vit_spec() -> lrspec.Spec:
    return lrspec.load(ROOT / "examples" / "vit_llrd_timm.yaml")


VIT_SMALL = {"img_size": 32, "patch_size": 8, "num_classes": 3, "embed_dim": 16, "num_heads": 2}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"depth": 1},
        {"depth": 2},
        {"depth": 3},
        {"depth": 12},
        {"depth": 2, "class_token": False, "global_pool": "avg"},
        {"depth": 3, "init_values": 1e-5, "reg_tokens": 2},
    ],
    ids=["depth1", "depth2", "depth3", "depth12", "no_cls_avg_pool", "layer_scale_reg_tokens"],
)
def test_vit_layer_decay_equals_timm(vit_spec: lrspec.Spec, kwargs: dict[str, Any]) -> None:
    timm = _timm()
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **{**VIT_SMALL, **kwargs})
    _check(model, vit_spec, model.no_weight_decay())
    depth = kwargs["depth"]
    plan = lrspec.resolve(vit_spec, {n: tuple(p.shape) for n, p in model.named_parameters()})
    # embeddings, one layer per block (the final norm joined the last), the head
    assert len(plan.layer_names) == depth + 2
    assert plan.param("norm.weight" if "global_pool" not in kwargs else "fc_norm.weight").layer in (depth, depth + 1)


CONVNEXT_SPEC = """
version: 1
optimizer: {type: adamw, lr: 4.0e-3, weight_decay: 0.05}
groups:
  - {name: no_decay, params: ["*"], ndim: [0, 1], weight_decay: 0}
layer_decay:
  rate: 0.8
  unmatched: last
  layers:
    - "stem.*"
    - "stages.0.blocks.{i}.*"
    - {params: ["stages.1.downsample.*", "stages.1.blocks.0.*"]}
    - "stages.1.blocks.{i}.*"
    - {params: ["stages.2.downsample.*", "stages.2.blocks.0.*"]}
    - "stages.2.blocks.{i}.*"
    - {params: ["stages.3.downsample.*", "stages.3.blocks.0.*"]}
    - "stages.3.blocks.{i}.*"
    - {params: ["norm_pre.*"], join: previous, optional: true}
"""


def test_convnext_layer_decay_equals_timm() -> None:
    """timm's ConvNeXt matcher keys layers by (stage, block) and puts a stage's downsample into
    its block 0's layer: a per-stage spec (independent of the blocks per stage) says it."""
    timm = _timm()
    model = timm.create_model(
        "convnext_atto", pretrained=False, num_classes=3, depths=(2, 1, 3, 1), dims=(8, 16, 24, 32)
    )
    _check(model, lrspec.load_text(CONVNEXT_SPEC), ())
