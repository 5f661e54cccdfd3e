"""HF Trainer with lrspec (examples/integrations/torch_hf_trainer.py) vs a hand-written loop.

The hand-written equivalent: stock AdamW, the embeddings with ``requires_grad=False`` until update
UNTIL and then added as a fresh param group, lrs set from the closed form of warmup + cosine written
here, gradient accumulation 2 (loss / 2), ``clip_grad_norm_(0.1)`` before each step. Resuming from
the step-3 checkpoint (the freeze ends at 4) or the step-6 one ends bitwise where the uninterrupted
run ends.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("transformers")
import torch
from _torch_integration import load_example

pytestmark = pytest.mark.slow
hf = load_example("torch_hf_trainer")


def m(t: int) -> float:
    return t / 3 if t < 3 else 0.5 * (1 + math.cos(math.pi * min(t - 3, 9) / 9))


def hand_written(steps: int) -> torch.nn.Module:
    model = hf.Classifier()
    named = dict(model.named_parameters())
    emb = [p for n, p in named.items() if n.startswith("net.bert.embeddings.")]
    head = [p for n, p in named.items() if n.startswith("net.classifier.")]
    rest = [p for n, p in named.items() if not n.startswith(("net.bert.embeddings.", "net.classifier."))]
    for p in emb:
        p.requires_grad_(False)
    opt = torch.optim.AdamW(
        [{"params": rest, "base": 0.01}, {"params": head, "base": 0.05}], lr=0.01, weight_decay=0.01
    )
    data = hf.Tokens()
    batches = [(data.ids[i : i + 4], data.labels[i : i + 4]) for i in range(0, 32, 4)]
    k = 0
    for t in range(steps):
        if t == hf.UNTIL:
            for p in emb:
                p.requires_grad_(True)
            opt.add_param_group({"params": emb, "base": 0.01})
        for g in opt.param_groups:
            g["lr"] = g["base"] * m(t)
        for _ in range(2):
            ids, labels = batches[k % len(batches)]
            k += 1
            (model(ids, labels)["loss"] / 2).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        opt.zero_grad()
    return model


def test_trainer_matches_hand_written_and_resumes_bitwise(tmp_path: Path) -> None:
    model, trainer = hf.train(str(tmp_path), 12)
    ref = hand_written(12)
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=2e-6), n
    logged = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert logged[hf.UNTIL - 1] > 0  # group 0 trains from the start: the log never reads 0 for the freeze
    for k in (3, 6):  # 3: before the embeddings' freeze ends at UNTIL = 4; 6: after
        resumed, _ = hf.train(str(tmp_path / f"from{k}"), 12, resume=str(tmp_path / f"checkpoint-{k}"))
        for (n, p), q in zip(resumed.named_parameters(), model.parameters()):
            assert torch.equal(p, q), (k, n)
