"""Freezes inside real training loops: closures, clipping, drift warnings, checked checkpoints.

Every comparison is against the hand-written equivalent: the same model trained with the frozen
parameters given ``requires_grad=False`` and a stock torch optimizer/schedule.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from lrspec_torch.clock import LrSpecClockWarning  # noqa: E402
from torch import nn  # noqa: E402

import lrspec  # noqa: E402
from lrspec.errors import CheckpointError  # noqa: E402

UNTIL = 3


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def spec(opt: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "optimizer": opt,
        "groups": [{"name": "a", "params": ["0.*"], "freeze": {"until_step": UNTIL}}],
    }


X = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))


def loss_of(model: nn.Module) -> torch.Tensor:
    return model(X).pow(2).mean()


def hand_written(steps: int, *, clip: float | None, opt: dict[str, Any]) -> nn.Module:
    """requires_grad=False until UNTIL, then a fresh optimizer state for layer 0 (stock torch)."""
    model = net()
    kw = {k: v for k, v in opt.items() if k != "type"}
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[opt["type"]]
    rest = [p for n, p in model.named_parameters() if not n.startswith("0.")]
    first = list(model[0].parameters())
    o = cls([{"params": rest}], **kw)
    for p in first:
        p.requires_grad_(False)
    for t in range(steps):
        if t == UNTIL:
            for p in first:
                p.requires_grad_(True)
            o.add_param_group({"params": first})
        loss_of(model).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        o.step()
        o.zero_grad()
    return model


def assert_same(a: nn.Module, b: nn.Module) -> None:
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), n


@pytest.mark.parametrize("opt", [{"type": "sgd", "lr": 0.1, "momentum": 0.9}, {"type": "adam", "lr": 0.05}])
def test_step_with_closure_keeps_frozen_params_stateless(opt: dict[str, Any]) -> None:
    model = net()
    c = lrspec.compile(spec(opt), model, target="torch")

    def closure() -> torch.Tensor:
        c.optimizer.zero_grad()
        loss = loss_of(model)
        loss.backward()
        return loss

    for t in range(8):
        c.optimizer.step(closure)
        if t < UNTIL:
            assert model[0].weight not in c.optimizer.state or not c.optimizer.state[model[0].weight]
        c.scheduler.step()
    assert_same(model, hand_written(8, clip=None, opt=opt))


def test_clipping_does_not_see_frozen_gradients() -> None:
    opt = {"type": "sgd", "lr": 0.1, "momentum": 0.9}
    model = net()
    c = lrspec.compile(spec(opt), model, target="torch")
    for _t in range(8):
        loss_of(model).backward()
        if _t < UNTIL:
            assert model[0].weight.grad is None  # as if it had no gradient
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
        c.optimizer.step()
        c.scheduler.step()
        c.optimizer.zero_grad()
    assert_same(model, hand_written(8, clip=0.05, opt=opt))


def test_a_later_compile_owns_the_gradient_gate() -> None:
    model = net()
    lrspec.compile(spec({"type": "sgd", "lr": 0.1}), model, target="torch")
    c2 = lrspec.compile(spec({"type": "sgd", "lr": 0.1}), model, target="torch")
    for _ in range(UNTIL):
        c2.optimizer.step()
        c2.scheduler.step()
    loss_of(model).backward()  # the first compile (t = 0 for ever) must not discard this
    assert model[0].weight.grad is not None


def test_trainable_group_comes_first_for_loggers() -> None:
    c = lrspec.compile(spec({"type": "sgd", "lr": 0.1}), net(), target="torch")
    assert [g["name"] for g in c.optimizer.param_groups] == ["default", "a"]
    assert c.scheduler.get_last_lr()[0] == 0.1  # what HF Trainer logs


def test_lightning_dict() -> None:
    c = lrspec.compile(spec({"type": "sgd", "lr": 0.1}), net(), target="torch")
    d = c.lightning()
    assert d["optimizer"] is c.optimizer and d["lr_scheduler"]["scheduler"] is c.scheduler
    assert d["lr_scheduler"]["interval"] == "step"


def run(c: Any, model: nn.Module, pattern: list[tuple[int, int]]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for opt_steps, sched_steps in pattern:
            for _ in range(opt_steps):
                loss_of(model).backward()
                c.optimizer.step()
                c.optimizer.zero_grad()
            for _ in range(sched_steps):
                c.scheduler.step()
    return [w for w in caught if issubclass(w.category, LrSpecClockWarning)]


def test_clock_drift_warns_once_but_not_for_occasional_skipped_steps() -> None:
    model = net()
    c = lrspec.compile(spec({"type": "sgd", "lr": 0.1}), model, target="torch")
    # GradScaler with a for-loop optimizer: 2 of 7 steps skipped (optimizer not called), scheduler ticks 7
    assert run(c, model, [(1, 1), (0, 1), (1, 1), (1, 1), (0, 1), (1, 1), (1, 1)] * 4) == []
    c = lrspec.compile(spec({"type": "sgd", "lr": 0.1}), model, target="torch")
    epoch = run(c, model, [(10, 1)] * 4)  # Lightning's default interval "epoch"
    assert len(epoch) == 1 and "lrspec" in str(epoch[0].message) and '"interval": "step"' in str(epoch[0].message)
    c = lrspec.compile(spec({"type": "sgd", "lr": 0.1}), model, target="torch")
    micro = run(c, model, [(1, 2)] * 20)  # raw scheduler stepped per micro-batch (accumulation 2)
    assert len(micro) == 1 and "micro-batch" in str(micro[0].message)


# --- checkpoints -------------------------------------------------------------------------


def trained(opt: dict[str, Any], **options: Any) -> Any:
    model = nn.Linear(3, 2)
    c = lrspec.compile({"version": 1, "optimizer": opt}, model, target="torch", **options)
    for _ in range(2):
        model(X).sum().backward()
        c.optimizer.step()
        c.scheduler.step()
        c.optimizer.zero_grad()
    return c


def snapshot(c: Any) -> Any:
    return copy.deepcopy((c.optimizer.state_dict(), c.scheduler.state_dict()))


def assert_unchanged(c: Any, before: Any) -> None:
    after = snapshot(c)
    assert after[1] == before[1]
    assert after[0]["param_groups"] == before[0]["param_groups"]
    for k, st in before[0]["state"].items():
        for key, v in st.items():
            assert torch.equal(after[0]["state"][k][key], v)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s["state"][0].__setitem__("exp_avg", torch.zeros(5)), r"exp_avg of parameter 0 .* has shape \(5,\)"),
        (lambda s: s["state"][0].__setitem__("exp_avg_sq", torch.zeros(2, 3, dtype=torch.int64)), "dtype torch.int64"),
        (lambda s: s["state"][0]["exp_avg"].fill_(float("nan")), "exp_avg .* is not finite"),
        (lambda s: s["state"][0].__setitem__("step", torch.tensor(float("inf"))), "step="),
        (lambda s: s["param_groups"][0].__setitem__("lr", float("nan")), "lr=nan"),
        (
            lambda s: s["state"][0].__setitem__("momentum_buffer", torch.zeros(2, 3)),
            "momentum_buffer.*another optimizer family",
        ),
    ],
)
def test_bad_adam_states_are_refused_and_change_nothing(edit: Any, message: str) -> None:
    c = trained({"type": "adam", "lr": 0.1})  # the default: fused Adam on CPU
    assert c.optimizer.defaults.get("fused") is True
    before = snapshot(c)
    bad = copy.deepcopy(before[0])
    edit(bad)
    with pytest.raises(CheckpointError, match=message):
        c.optimizer.load_state_dict(bad)
    with pytest.raises(CheckpointError, match=message):
        c.load_state_dict({"optimizer": bad, "scheduler": {**before[1], "t": 0}})
    assert_unchanged(c, before)


def test_state_of_another_family_is_refused() -> None:
    adam = trained({"type": "adam", "lr": 0.1})
    sgd = trained({"type": "sgd", "lr": 0.1, "momentum": 0.9})
    before = snapshot(sgd)
    with pytest.raises(CheckpointError, match=r"no 'momentum'.*another optimizer family"):
        sgd.optimizer.load_state_dict(adam.optimizer.state_dict())
    assert_unchanged(sgd, before)


def test_bad_scheduler_state_leaves_the_optimizer_untouched() -> None:
    c = trained({"type": "adam", "lr": 0.1})
    other = trained({"type": "adam", "lr": 0.1})
    before = snapshot(c)
    good_opt = other.optimizer.state_dict()
    with pytest.raises(CheckpointError, match="different plan"):
        c.load_state_dict({"optimizer": good_opt, "scheduler": {**before[1], "fingerprint": "x"}})
    assert_unchanged(c, before)


def test_loaded_lr_is_the_schedulers() -> None:
    c = trained({"type": "sgd", "lr": 0.1})
    state = c.state_dict()
    fresh = trained({"type": "sgd", "lr": 0.1})
    state["optimizer"]["param_groups"][0]["lr"] = 123.0
    fresh.scheduler.load_state_dict(state["scheduler"])
    fresh.optimizer.load_state_dict(state["optimizer"])
    assert fresh.optimizer.param_groups[0]["lr"] == 0.1
