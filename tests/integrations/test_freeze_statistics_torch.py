"""``freeze_statistics: true`` in torch vs the hand-written ``bn.eval()`` + ``requires_grad_(False)``."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrspec  # noqa: E402
from lrspec.errors import ResolveError, TargetError  # noqa: E402

pytestmark = pytest.mark.torch


def _net() -> Any:
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))
    return nn.Sequential(backbone, nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def _spec(freeze_statistics: bool | None) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "backbone", "params": ["0.*"], "freeze": True}
    if freeze_statistics is not None:
        base["freeze_statistics"] = freeze_statistics
    return {"version": 1, "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9}, "groups": [base]}


def _train(net: Any, optimizer: Any, scheduler: Any = None, steps: int = 4) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        net.train()  # what every training loop does
        x, y = torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 3, (6,), generator=g)
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def _bns(net: Any) -> list[Any]:
    return [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]


def test_freeze_statistics_equals_hand_written_eval_and_requires_grad_false() -> None:
    stock = _net()
    for m in _bns(stock):
        m.eval()
    stock[0].requires_grad_(False)
    # hand-written: eval() once, and after every net.train() again (what users must remember)
    opt = torch.optim.SGD(stock[2].parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        stock.train()
        for m in _bns(stock):
            m.eval()
        x, y = torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 3, (6,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(stock(x), y).backward()
        opt.step()

    net = _net()
    stats0 = [(m.running_mean.clone(), m.running_var.clone()) for m in _bns(net)]
    c = lrspec.compile(_spec(True), net, target="torch")
    assert c.plan.groups[0].freeze_statistics
    _train(net, c.optimizer, c.scheduler)
    for m, (mean0, var0) in zip(_bns(net), stats0):
        assert not m.training and int(m.num_batches_tracked) == 0
        assert torch.equal(m.running_mean, mean0) and torch.equal(m.running_var, var0)
    for (n, p), q in zip(net.named_parameters(), stock.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), n


def test_default_freeze_stops_updates_only() -> None:
    net = _net()
    stats0 = [m.running_mean.clone() for m in _bns(net)]
    params0 = [p.detach().clone() for p in net[0].parameters()]
    c = lrspec.compile(_spec(None), net, target="torch")
    assert not c.plan.groups[0].freeze_statistics
    _train(net, c.optimizer, c.scheduler)
    assert all(m.training for m in _bns(net))
    assert all(not torch.equal(m.running_mean, s) for m, s in zip(_bns(net), stats0))  # statistics move
    assert all(torch.equal(p, q) for p, q in zip(net[0].parameters(), params0))  # parameters do not


def test_freeze_statistics_needs_a_permanent_freeze_and_whole_layers() -> None:
    bad = _spec(True)
    bad["groups"][0]["freeze"] = {"until_step": 2}
    with pytest.raises(ResolveError, match="freeze_statistics needs freeze: true"):
        lrspec.compile(bad, _net(), target="torch")
    half = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1},
        "groups": [{"name": "w", "params": ["0.1.weight"], "freeze": True, "freeze_statistics": True}],
    }
    with pytest.raises(TargetError, match=r"module '0\.1'"):
        lrspec.compile(half, _net(), target="torch")
