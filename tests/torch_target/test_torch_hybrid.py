"""A family per group: ONE torch optimizer (HybridOptimizer) vs two hand-built stock optimizers.

The hand-built equivalent of the spec below: ``torch.optim.Muon`` over the two 2-D Linear
weights (lr 0.02, weight decay 0.05, ``adjust_lr_fn="match_rms_adamw"``) and
``torch.optim.AdamW`` over the rest (lr 0.01, weight decay 0.05, ``fused=True``: the
implementation lrspec picks on CPU), the conv layer with ``requires_grad=False`` until update
UNTIL, ``clip_grad_norm_`` over all parameters before each step. float32, 10 updates, bitwise.
"""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrspec  # noqa: E402
from lrspec.errors import CheckpointError, TargetError  # noqa: E402

STEPS = 10
UNTIL = 3
CLIP = 0.5
SPEC: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
    "groups": [
        {
            "name": "matrices",
            "params": ["*"],
            "ndim": 2,
            "optimizer": {"type": "muon", "adjust_lr_fn": "match_rms_adamw"},
            "lr": 0.02,
        },
        {"name": "conv", "params": ["0.*"], "freeze": {"until_step": UNTIL}},
    ],
}
NO_FREEZE = {**SPEC, "groups": SPEC["groups"][:1]}


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 3))


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(4, 1, 6, 6, generator=g), torch.randint(0, 3, (4,), generator=g)) for _ in range(STEPS)]


DATA = batches()


def loss_of(model: nn.Module, t: int) -> torch.Tensor:
    x, y = DATA[t]
    return nn.functional.cross_entropy(model(x), y)


class Hand:
    """The two stock optimizers, as a user writes them."""

    def __init__(self, model: nn.Module, *, freeze: bool = True) -> None:
        named = dict(model.named_parameters())
        self.model = model
        self.conv = [named["0.weight"], named["0.bias"]] if freeze else []
        rest = [p for n, p in named.items() if p.ndim != 2 and not (freeze and n.startswith("0."))]
        self.muon = torch.optim.Muon(
            [named["2.weight"], named["4.weight"]], lr=0.02, weight_decay=0.05, adjust_lr_fn="match_rms_adamw"
        )
        groups = [{"params": rest}] + ([{"params": self.conv}] if freeze else [])
        self.adamw = torch.optim.AdamW(groups, lr=0.01, weight_decay=0.05, fused=True)
        self.optimizers = [self.muon, self.adamw]

    def freeze_at(self, t: int) -> None:
        for p in self.conv:
            p.requires_grad_(t >= UNTIL)


def hand_run(variant: str) -> nn.Module:
    model = make_model()
    hand = Hand(model, freeze=variant != "lambdalr")
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if variant == "scaler" else None
    lambdas = (
        [torch.optim.lr_scheduler.LambdaLR(o, lambda t: 0.8**t) for o in hand.optimizers]
        if variant == "lambdalr"
        else []
    )
    for t in range(STEPS):
        hand.freeze_at(t) if variant != "lambdalr" else None
        loss = loss_of(model, t)
        if scaler is not None:
            scaler.scale(loss * (float("inf") if t == 5 else 1.0)).backward()
            for o in hand.optimizers:
                scaler.unscale_(o)
        else:
            loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        for o in hand.optimizers:
            scaler.step(o) if scaler is not None else o.step()
        if scaler is not None:
            scaler.update()
        for s in lambdas:
            s.step()
        for o in hand.optimizers:
            o.zero_grad()
    return model


def compiled_run(variant: str, resume_at: int | None = None) -> tuple[nn.Module, Any]:
    model = make_model()
    c = lrspec.compile(NO_FREEZE if variant == "lambdalr" else SPEC, model, target="torch")
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if variant == "scaler" else None
    lambdalr = torch.optim.lr_scheduler.LambdaLR(c.optimizer, lambda t: 0.8**t) if variant == "lambdalr" else None
    for t in range(STEPS):
        if t == resume_at:
            buf = io.BytesIO()
            torch.save({"model": model.state_dict(), "lrspec": c.state_dict()}, buf)
            buf.seek(0)
            saved = torch.load(buf, weights_only=True)
            model = make_model()
            model.load_state_dict(saved["model"])
            c = lrspec.compile(SPEC, model, target="torch")
            c.load_state_dict(saved["lrspec"])
        opt = c.optimizer
        if variant == "closure":
            calls: list[int] = []

            def closure(opt: Any = opt, model: nn.Module = model, t: int = t, calls: list[int] = calls) -> torch.Tensor:
                calls.append(1)
                opt.zero_grad()
                loss = loss_of(model, t)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), CLIP)
                return loss

            opt.step(closure)
            assert len(calls) == 1
        else:
            loss = loss_of(model, t)
            if scaler is not None:
                scaler.scale(loss * (float("inf") if t == 5 else 1.0)).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            scaler.step(opt) if scaler is not None else opt.step()
            if scaler is not None:
                scaler.update()
        if lambdalr is not None:
            lambdalr.step()
        else:
            c.scheduler.step()
        if t < UNTIL and variant != "lambdalr":
            assert all(len(opt.state[p]) == 0 for p in model[0].parameters())  # no state while frozen
        opt.zero_grad()
    return model, c


def assert_same(a: nn.Module, b: nn.Module) -> None:
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), n


@pytest.fixture(scope="module")
def hand_plain() -> nn.Module:
    return hand_run("plain")


def test_one_optimizer_with_shared_groups() -> None:
    model = make_model()
    c = lrspec.compile(SPEC, model, target="torch")
    opt = c.optimizer
    assert isinstance(opt, torch.optim.Optimizer) and type(opt).__name__ == "HybridOptimizer"
    kinds = dict(zip(opt.families, map(type, opt.optimizers)))
    assert kinds == {"muon": torch.optim.Muon, "adamw": torch.optim.AdamW}
    inner = [g for o in opt.optimizers for g in o.param_groups]
    assert sorted(map(id, opt.param_groups)) == sorted(map(id, inner))  # the very same dicts
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["matrices"]["family"] == "muon" and by_name["conv"]["family"] == "adamw"
    assert [p.ndim for p in by_name["matrices"]["params"]] == [2, 2]
    by_name["matrices"]["lr"] = 0.123  # a user edit reaches the inner optimizer
    muon = opt.optimizers[opt.families.index("muon")]
    assert muon.param_groups[0]["lr"] == 0.123
    assert repr(opt).startswith("HybridOptimizer [") and "muon: Muon" in repr(opt) and "adamw: AdamW" in repr(opt)
    single = lrspec.compile({**SPEC, "groups": []}, make_model(), target="torch")
    assert type(single.optimizer) is torch.optim.AdamW  # one family: the stock optimizer, as before


@pytest.mark.parametrize("variant", ["plain", "closure"])
def test_equals_hand_built_stock_optimizers(variant: str, hand_plain: nn.Module) -> None:
    """Freeze-until, clipping between backward and step (or inside the closure)."""
    model, _ = compiled_run(variant)
    assert_same(model, hand_plain)
    assert not torch.equal(model[0].weight, make_model()[0].weight)  # the conv trained after UNTIL


def test_with_gradscaler_and_a_skipped_step() -> None:
    model, _ = compiled_run("scaler")
    assert_same(model, hand_run("scaler"))


def test_state_dict_round_trip_mid_run(hand_plain: nn.Module) -> None:
    model, c = compiled_run("plain", resume_at=6)
    assert_same(model, hand_plain)
    opt = c.optimizer
    inner = [g for o in opt.optimizers for g in o.param_groups]
    assert sorted(map(id, opt.param_groups)) == sorted(map(id, inner))
    sd = opt.state_dict()
    again = copy.deepcopy(sd)
    opt.load_state_dict(again)
    sd2 = opt.state_dict()
    assert [g["name"] for g in sd2["param_groups"]] == [g["name"] for g in sd["param_groups"]]
    for k, st in sd["state"].items():
        assert sd2["state"][k].keys() == st.keys()
        for key, v in st.items():
            assert torch.equal(torch.as_tensor(sd2["state"][k][key]), torch.as_tensor(v)), (k, key)


def test_torch_lambdalr_drives_the_inner_optimizers() -> None:
    model, c = compiled_run("lambdalr")
    assert_same(model, hand_run("lambdalr"))
    muon = c.optimizer.optimizers[c.optimizer.families.index("muon")]
    assert muon.param_groups[0]["lr"] == pytest.approx(0.02 * 0.8**STEPS)


def test_checkpoint_checks_family_per_group_all_or_nothing() -> None:
    model = make_model()
    c = lrspec.compile(SPEC, model, target="torch")
    for t in range(UNTIL + 1):
        loss_of(model, t).backward()
        c.optimizer.step()
        c.scheduler.step()
        c.optimizer.zero_grad()
    good = c.optimizer.state_dict()
    before = copy.deepcopy(good)
    # a state whose 'matrices' group was saved as AdamW
    bad = copy.deepcopy(good)
    i = next(k for k, g in enumerate(bad["param_groups"]) if g["name"] == "matrices")
    bad["param_groups"][i]["family"] = "adamw"
    with pytest.raises(CheckpointError, match="family"):
        c.optimizer.load_state_dict(bad)
    # a wrong-shaped Muon momentum buffer in the last parameter: nothing is applied
    bad = copy.deepcopy(good)
    pid = bad["param_groups"][i]["params"][-1]
    bad["state"][pid]["momentum_buffer"] = torch.zeros(2, 2)
    for g in bad["param_groups"]:
        g["lr"] = 0.5
    with pytest.raises(CheckpointError, match="shape"):
        c.optimizer.load_state_dict(bad)
    now = c.optimizer.state_dict()
    assert [g["lr"] for g in now["param_groups"]] == [g["lr"] for g in before["param_groups"]]
    for k, st in before["state"].items():
        for key, v in st.items():
            assert torch.equal(torch.as_tensor(now["state"][k][key]), torch.as_tensor(v))
    # a single-family (AdamW-only) state
    other = lrspec.compile({**SPEC, "groups": SPEC["groups"][1:]}, make_model(), target="torch")
    with pytest.raises(CheckpointError):
        c.optimizer.load_state_dict(other.optimizer.state_dict())


def test_add_param_group_and_state_view() -> None:
    model = make_model()
    c = lrspec.compile(SPEC, model, target="torch")
    opt = c.optimizer
    extra = nn.Parameter(torch.zeros(3, 3))
    with pytest.raises(TargetError, match="family"):
        opt.add_param_group({"params": [extra]})
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [model[2].weight], "family": "muon"})
    opt.add_param_group({"params": [extra], "family": "muon", "lr": 0.1})
    assert opt.param_groups[-1] is opt.optimizers[opt.families.index("muon")].param_groups[-1]
    assert opt.param_groups[-1]["momentum"] == 0.95  # the inner optimizer's defaults filled it
    extra.grad = torch.ones(3, 3)
    loss_of(model, 0).backward()
    opt.step()
    assert set(opt.state[extra]) == {"momentum_buffer"}
    adamw = opt.optimizers[opt.families.index("adamw")]
    assert opt.state[model[4].bias] is adamw.state[model[4].bias]
    assert len(opt.state) == sum(len(o.state) for o in opt.optimizers)


def test_step_hooks_run_once_per_step() -> None:
    c = lrspec.compile(NO_FREEZE, make_model(), target="torch")
    seen: list[str] = []
    c.optimizer.register_step_pre_hook(lambda *_: seen.append("pre"))
    c.optimizer.register_step_post_hook(lambda *_: seen.append("post"))
    c.optimizer.step()
    assert seen == ["pre", "post"]


def _hand_muon_step(p: torch.Tensor, g: torch.Tensor, lr: float, dtype: torch.dtype) -> torch.Tensor:
    """torch's Muon rule written out (momentum 0.95, nesterov, one step from a zero buffer)."""
    buf = torch.zeros_like(g).lerp_(g, 0.05)
    upd = g.lerp(buf, 0.95).to(dtype)
    x = upd.T if upd.shape[0] > upd.shape[1] else upd
    x = x / x.norm().clamp(min=1e-7)
    a, b, c = 3.4445, -4.775, 2.0315
    for _ in range(5):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    x = x.T if upd.shape[0] > upd.shape[1] else x
    return p * (1 - lr * 0.1) - lr * max(1, p.shape[0] / p.shape[1]) ** 0.5 * x


@pytest.mark.parametrize("ns", [None, "float32", "float64"])
def test_newton_schulz_dtype(ns: str | None) -> None:
    """None: torch's stock Muon (bfloat16 Newton-Schulz); float64: the exact math, written out."""
    spec = {"version": 1, "optimizer": {"type": "muon", "lr": 0.02}}
    w = nn.Parameter(torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))
    g = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    w0 = w.detach().clone()
    c = lrspec.compile(spec, {"w": w}, target="torch", **({"newton_schulz_dtype": ns} if ns else {}))
    assert (type(c.optimizer) is torch.optim.Muon) == (ns is None)
    exact = _hand_muon_step(w0, g, 0.02, torch.float64)
    w.grad = g.clone()
    c.optimizer.step()
    moved = float((exact - w0).abs().max())
    err = float((w.detach() - exact).abs().max())
    tol = {None: 2e-2, "float32": 1e-5, "float64": 1e-13}[ns]
    assert err <= tol * moved, (ns, err, moved)
    if ns is None:
        stock = nn.Parameter(w0.clone())
        ref = torch.optim.Muon([stock], lr=0.02)
        stock.grad = g.clone()
        ref.step()
        assert torch.equal(stock, w)
    with pytest.raises(TargetError, match="newton_schulz_dtype"):
        lrspec.compile(spec, {"w": nn.Parameter(torch.zeros(2, 2))}, target="torch", newton_schulz_dtype="bf16")


def test_deepcopy_keeps_one_optimizer_over_shared_groups() -> None:
    model = make_model()
    c = lrspec.compile(NO_FREEZE, model, target="torch")
    loss_of(model, 0).backward()
    c.optimizer.step()
    clone = copy.deepcopy(c.optimizer)
    inner = [g for o in clone.optimizers for g in o.param_groups]
    assert sorted(map(id, clone.param_groups)) == sorted(map(id, inner))
    assert len(clone.state) == len(c.optimizer.state) == 6
    assert clone.state_dict()["param_groups"] == c.optimizer.state_dict()["param_groups"]
