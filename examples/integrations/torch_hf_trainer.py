"""lrspec with the Hugging Face Trainer: warmup + cosine, a layer frozen until step N, gradient
accumulation, max_grad_norm, checkpoint and resume.

    python examples/integrations/torch_hf_trainer.py OUT_DIR

Runs offline: the model is built from a tiny config (no hub download). ``Trainer(optimizers=(opt,
sched))`` uses lrspec's optimizer and scheduler as given: it steps the scheduler once per real
update, clips gradients before ``optimizer.step()`` (frozen parameters have no gradient, so they
do not count in the norm) and logs ``scheduler.get_last_lr()[0]`` (lrspec orders param groups
so group 0 trains first).
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch
from torch import nn
from torch.utils.data import Dataset, SequentialSampler
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import lrspec

UNTIL = 4
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.01},
    "schedule": {"type": "warmup", "steps": 3, "then": {"type": "cosine", "decay_steps": 9}},
    "groups": [
        {"name": "embeddings", "params": ["net.bert.embeddings.*"], "freeze": {"until_step": UNTIL}},
        {"name": "head", "params": ["net.classifier.*"], "lr_mult": 5.0},
    ],
}


class Classifier(nn.Module):
    """A tiny BERT classifier built from a config; forward returns ``{"loss", "logits"}``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=32,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=16,
            num_labels=2,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        self.net = BertForSequenceClassification(config)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.net(input_ids=input_ids).logits
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


class Tokens(Dataset[dict[str, torch.Tensor]]):
    """32 fixed examples of 8 tokens with a binary label."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(1)
        self.ids = torch.randint(0, 32, (32, 8), generator=g)
        self.labels = (self.ids.sum(1) % 2).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


class InOrderTrainer(Trainer):
    """Trainer without shuffling, so a hand-written loop can see the same batches."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)


def arguments(out_dir: str, max_steps: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=out_dir,
        max_steps=max_steps,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        max_grad_norm=0.1,
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


def train(out_dir: str, max_steps: int = 12, resume: str | None = None) -> tuple[Classifier, Trainer]:
    """Train ``max_steps`` updates (from the checkpoint directory ``resume`` if given)."""
    model = Classifier()
    compiled = lrspec.compile(SPEC, model, target="torch")
    trainer = InOrderTrainer(
        model=model,
        args=arguments(out_dir, max_steps),
        train_dataset=Tokens(),
        optimizers=(compiled.optimizer, compiled.scheduler),
    )
    trainer.train(resume_from_checkpoint=resume)
    return model, trainer


if __name__ == "__main__":
    model, trainer = train(sys.argv[1] if len(sys.argv) > 1 else "hf_out")
    print([round(h["learning_rate"], 6) for h in trainer.state.log_history if "learning_rate" in h])
