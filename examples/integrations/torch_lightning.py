"""lrspec with Lightning's automatic optimization: ``configure_optimizers`` returns
``compiled.lightning()`` (``"interval": "step"``), Lightning calls ``optimizer.step(closure)``.

    python examples/integrations/torch_lightning.py OUT_DIR

Checkpoints: a ``ModelCheckpoint(every_n_train_steps=SAVE_EVERY, save_top_k=-1)`` saves
``OUT_DIR/checkpoints/step=K.ckpt`` during ``fit`` (model, optimizer state, lrspec's scheduler
state ``t``, Lightning's loop counters). ``train(..., ckpt=that file)`` resumes a fresh Trainer
from it and continues exactly (bitwise) like the uninterrupted run, also mid-epoch, because the
training data is a :class:`ResumableLoader` (Lightning restores a loader's position only when it
has ``state_dict``/``load_state_dict``; a plain ``DataLoader`` restarts the epoch's batches).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrspec

UNTIL, SAVE_EVERY = 3, 2
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
    "schedule": {"type": "exponential", "decay_rate": 0.5, "decay_steps": 4},
    "groups": [{"name": "body", "params": ["net.0.*"], "freeze": {"until_step": UNTIL}}],
}


def data() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(24, 3, generator=g), torch.randn(24, 1, generator=g))


class ResumableLoader:
    """A ``DataLoader`` whose position in the epoch goes into Lightning's checkpoints.

    ``state_dict()`` is ``{"batches": n}``, the batches of the current epoch handed out so far
    (Lightning does not prefetch from a loader with a length, so these are the batches trained
    on); after ``load_state_dict`` the next epoch iterator skips the first ``n % len(self)``.
    """

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.loader = loader
        self.batches = 0
        self._skip = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        skip, self._skip = self._skip, 0
        self.batches = 0
        for i, batch in enumerate(self.loader):
            if i >= skip:
                self.batches = i + 1
                yield batch
        self.batches = 0

    def state_dict(self) -> dict[str, int]:
        return {"batches": self.batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._skip = int(state["batches"]) % len(self)


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


def train(
    out_dir: str, max_steps: int, ckpt: str | None = None, module: Module | None = None, clip: float | None = None
) -> Module:
    """``max_steps`` updates of ``module`` (default: a fresh ``Module()``) on batches of 4 (in
    order, 6 per epoch), saving ``out_dir/checkpoints/step=K.ckpt`` every ``SAVE_EVERY`` updates;
    ``ckpt`` resumes from one; ``clip``: Lightning's ``gradient_clip_val`` (norm clipping, inside
    the closure after backward: frozen gradients are already gone)."""
    module = Module() if module is None else module
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    trainer = L.Trainer(
        max_steps=max_steps,
        default_root_dir=out_dir,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=clip,
        callbacks=[
            ModelCheckpoint(
                dirpath=f"{out_dir}/checkpoints", filename="{step}", every_n_train_steps=SAVE_EVERY, save_top_k=-1
            )
        ],
    )
    loader = ResumableLoader(DataLoader(data(), batch_size=4, shuffle=False))
    trainer.fit(module, loader, ckpt_path=ckpt)
    return module


if __name__ == "__main__":
    print(dict(train(sys.argv[1] if len(sys.argv) > 1 else "lightning_out", 10).named_parameters()))
