"""HF Trainer with a family per group (Muon for the 2-D weights, AdamW for the rest) vs a hand-written loop.

Trainer takes lrspec's one HybridOptimizer and the lrspec scheduler (``optimizers=(opt, sched)``,
wrapped by accelerate). The hand-written equivalent: ``torch.optim.Muon`` over the two Linear
weights (lr 0.02, weight decay 0.01, ``adjust_lr_fn="match_rms_adamw"``) and ``torch.optim.AdamW``
over the rest (lr 0.01, weight decay 0.01, ``fused=True`` as lrspec picks on CPU), lrs from the
closed form of warmup + cosine written here, ``clip_grad_norm_(0.5)`` before each step, the same
batches in order: bitwise equal. Resuming from the step-3 checkpoint (the optimizer state through
``HybridOptimizer.load_state_dict``) ends bitwise where the uninterrupted run ends.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch
from torch import nn
from torch.utils.data import Dataset, SequentialSampler
from transformers import Trainer, TrainingArguments

import lrspec

pytestmark = pytest.mark.slow

STEPS = 6
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.01},
    "schedule": {"type": "warmup", "steps": 2, "then": {"type": "cosine", "decay_steps": 4}},
    "groups": [
        {
            "name": "matrices",
            "params": ["*"],
            "ndim": 2,
            "optimizer": {"type": "muon", "adjust_lr_fn": "match_rms_adamw"},
            "lr": 0.02,
        },
    ],
}


def m(t: int) -> float:
    return t / 2 if t < 2 else 0.5 * (1 + math.cos(math.pi * min(t - 2, 4) / 4))


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(6, 8)
        self.norm = nn.LayerNorm(8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.fc2(torch.relu(self.norm(self.fc1(x))))
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


class Rows(Dataset[dict[str, torch.Tensor]]):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(24, 6, generator=g)
        self.labels = torch.randint(0, 3, (24,), generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.labels[i]}


class InOrderTrainer(Trainer):
    """Trainer without shuffling, so the hand-written loop sees the same batches."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)


def train(out_dir: str, resume: str | None = None) -> tuple[Tiny, Trainer]:
    model = Tiny()
    compiled = lrspec.compile(SPEC, model, target="torch")
    assert type(compiled.optimizer).__name__ == "HybridOptimizer"
    args = TrainingArguments(
        output_dir=out_dir,
        max_steps=STEPS,
        per_device_train_batch_size=4,
        max_grad_norm=0.5,
        logging_steps=1,
        save_steps=3,
        save_strategy="steps",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        data_seed=0,
        dataloader_num_workers=0,
    )
    trainer = InOrderTrainer(
        model=model, args=args, train_dataset=Rows(), optimizers=(compiled.optimizer, compiled.scheduler)
    )
    trainer.train(resume_from_checkpoint=resume)
    return model, trainer


def hand_written() -> Tiny:
    model = Tiny()
    mats = [model.fc1.weight, model.fc2.weight]
    rest = [model.fc1.bias, model.norm.weight, model.norm.bias, model.fc2.bias]
    muon = torch.optim.Muon(mats, lr=0.02, weight_decay=0.01, adjust_lr_fn="match_rms_adamw")
    adamw = torch.optim.AdamW(rest, lr=0.01, weight_decay=0.01, fused=True)
    data = Rows()
    for t in range(STEPS):
        for opt, base in ((muon, 0.02), (adamw, 0.01)):
            opt.param_groups[0]["lr"] = base * m(t)
        i = (4 * t) % len(data)
        model(data.x[i : i + 4], data.labels[i : i + 4])["loss"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        muon.step()
        adamw.step()
        muon.zero_grad()
        adamw.zero_grad()
    return model


def test_trainer_with_the_hybrid_optimizer_matches_two_stock_optimizers(tmp_path: Path) -> None:
    model, trainer = train(str(tmp_path))
    ref = hand_written()
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), n
    logged = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert len(logged) == STEPS
    resumed, _ = train(str(tmp_path), resume=str(tmp_path / "checkpoint-3"))
    for (n, p), q in zip(resumed.named_parameters(), model.parameters()):
        assert torch.equal(p, q), n
