"""lrspec with Lightning's automatic optimization: ``configure_optimizers`` returns
``compiled.lightning()`` (``"interval": "step"``), Lightning calls ``optimizer.step(closure)``.

    python examples/integrations/torch_lightning.py OUT_DIR
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrspec

UNTIL = 3
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
    "schedule": {"type": "exponential", "decay_rate": 0.5, "decay_steps": 4},
    "groups": [{"name": "body", "params": ["net.0.*"], "freeze": {"until_step": UNTIL}}],
}


def data() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(24, 3, generator=g), torch.randn(24, 1, generator=g))


class Module(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        return lrspec.compile(SPEC, self, target="torch").lightning()


def train(out_dir: str, max_steps: int, ckpt: str | None = None) -> Module:
    """``max_steps`` updates on batches of 4 (in order); saves ``last.ckpt`` in ``out_dir``."""
    module = Module()
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    trainer = L.Trainer(
        max_steps=max_steps,
        default_root_dir=out_dir,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, DataLoader(data(), batch_size=4, shuffle=False), ckpt_path=ckpt)
    trainer.save_checkpoint(f"{out_dir}/last.ckpt")
    return module


if __name__ == "__main__":
    print(dict(train(sys.argv[1] if len(sys.argv) > 1 else "lightning_out", 10).named_parameters()))
