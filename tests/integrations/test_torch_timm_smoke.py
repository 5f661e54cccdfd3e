"""timm imports and builds a small ViT (with lrspec's torchvision test shim when the installed
torchvision cannot load: see tests/shims/torchvision/__init__.py), and lrspec compiles for it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _torch_integration import torchvision_for_timm  # noqa: E402

import lrspec  # noqa: E402


def test_import_timm_and_build_a_small_vit() -> None:
    torchvision_for_timm()
    timm = pytest.importorskip("timm")
    model = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=32,
        patch_size=8,
        num_classes=3,
        depth=2,
        embed_dim=32,
        num_heads=2,
    )
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    spec = {
        "version": 1,
        "optimizer": {"type": "adamw", "lr": 1e-3},
        "groups": [{"name": "head", "params": ["head.*"], "lr_mult": 10.0}],
    }
    c = lrspec.compile(spec, model, target="torch")
    assert [g["name"] for g in c.optimizer.param_groups] == ["default", "head"]
