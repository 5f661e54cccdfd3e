"""Models for the ``lrspec import`` examples (``--model examples.importers.models:<name>``, run
from the repository root). Tiny, randomly initialised, nothing downloaded.

* ``detector``: an MMEngine-style backbone + neck + head with BatchNorm, a depthwise
  convolution, GroupNorm and LayerNorm (also the detectron2 example's model);
* ``vit``: a timm ViT (``group_matcher()`` and ``no_weight_decay()`` come from timm);
* ``bert``: a tiny HF BERT built from a config.
"""

from __future__ import annotations

import torch
from torch import nn


class Detector(nn.Module):
    """backbone (conv + BN, depthwise conv + BN), neck (1x1 conv + GroupNorm), head (LayerNorm + Linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8),
                                      nn.BatchNorm2d(8))
        self.neck = nn.Sequential(nn.Conv2d(8, 8, 1), nn.GroupNorm(2, 8))
        self.head = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(x)).mean(dim=(2, 3)))


def detector() -> nn.Module:
    torch.manual_seed(0)
    return Detector()


def vit() -> nn.Module:
    import timm

    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, num_classes=10,
                             depth=4, embed_dim=32, num_heads=2)


def bert() -> nn.Module:
    import transformers

    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    return transformers.BertForSequenceClassification(config)
