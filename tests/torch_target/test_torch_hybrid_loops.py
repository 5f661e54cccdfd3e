"""The HybridOptimizer (Muon for the 2-D weights, AdamW for the rest) in Lightning and accelerate.

Each run is compared with the hand-built equivalent in a plain loop: ``torch.optim.Muon`` over the
two Linear weights (lr 0.1, weight decay 0.1, torch's defaults otherwise), ``torch.optim.AdamW`` over
the biases (lr 0.1, weight decay 0.1, ``fused=True`` as lrspec picks on CPU), the first layer with
``requires_grad=False`` until update UNTIL, gradient-norm clipping at CLIP, the same batches in order.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import lrspec  # noqa: E402

pytestmark = pytest.mark.slow

UNTIL, CLIP, STEPS = 3, 0.3, 8
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 0.1, "weight_decay": 0.1},
    "groups": [
        {"name": "matrices", "params": ["*"], "ndim": 2, "optimizer": {"type": "muon"}},
        {"name": "first", "params": ["net.0.*"], "freeze": {"until_step": UNTIL}},
    ],
}
PLAIN_SPEC = {**SPEC, "groups": [SPEC["groups"][0], {**SPEC["groups"][1], "params": ["0.*"]}]}


def make_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def dataset() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(24, 3, generator=g), torch.randn(24, 1, generator=g))


def hand_built(steps: int, accumulate: int = 1) -> nn.Sequential:
    net = make_net()
    muon = torch.optim.Muon([net[0].weight, net[2].weight], lr=0.1, weight_decay=0.1)
    adamw = torch.optim.AdamW([net[0].bias, net[2].bias], lr=0.1, weight_decay=0.1, fused=True)
    x, y = dataset().tensors
    k = 0
    for t in range(steps):
        for p in net[0].parameters():
            p.requires_grad_(t >= UNTIL)
        for _ in range(accumulate):
            i = (4 * k) % 24
            k += 1
            (nn.functional.mse_loss(net(x[i : i + 4]), y[i : i + 4]) / accumulate).backward()
        nn.utils.clip_grad_norm_(net.parameters(), CLIP)
        muon.step()
        adamw.step()
        muon.zero_grad()
        adamw.zero_grad()
    return net


def assert_same(a: nn.Module, b: nn.Module, atol: float = 0.0) -> None:
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=atol), n


def test_lightning_automatic_optimization(tmp_path: Any) -> None:
    L = pytest.importorskip("lightning")

    class Module(L.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = make_net()

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self) -> Any:
            compiled = lrspec.compile(SPEC, self, target="torch")
            assert type(compiled.optimizer).__name__ == "HybridOptimizer"
            return compiled.lightning()

    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    module = Module()
    trainer = L.Trainer(
        max_steps=STEPS,
        default_root_dir=str(tmp_path),
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        gradient_clip_val=CLIP,
    )
    trainer.fit(module, DataLoader(dataset(), batch_size=4, shuffle=False))
    # Lightning clips over the optimizer's param_groups (another order of summing the norm: 1 ulp)
    assert_same(module.net, hand_built(STEPS), atol=1e-6)


def test_accelerate_prepare_with_gradient_accumulation() -> None:
    accelerate = pytest.importorskip("accelerate")
    net = make_net()
    compiled = lrspec.compile(PLAIN_SPEC, net, target="torch")
    accelerator = accelerate.Accelerator(cpu=True, gradient_accumulation_steps=2)
    loader = DataLoader(dataset(), batch_size=4, shuffle=False)
    model, opt, loader, sched = accelerator.prepare(net, compiled.optimizer, loader, compiled.scheduler)
    updates = 0
    for x, y in loader:
        with accelerator.accumulate(model):
            accelerator.backward(nn.functional.mse_loss(model(x), y))
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(model.parameters(), CLIP)
                updates += 1
            opt.step()
            sched.step()
            opt.zero_grad()
    assert updates == 3 and compiled.scheduler.t == 3
    assert_same(net, hand_built(3, accumulate=2), atol=1e-7)
