"""The torch target: groups, schedules, freezes, names, tied weights, options, errors, checkpoints."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import lrspec  # noqa: E402
from lrspec import CheckpointError, ResolveError, TargetError  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Linear(4, 5)
        self.mid = nn.Linear(5, 5)
        self.head = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.mid(torch.tanh(self.enc(x)))))


def spec(
    optimizer: dict[str, Any] | None = None, groups: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"version": 1, "optimizer": optimizer or {"type": "sgd", "lr": 0.1}, "groups": groups or [], **extra}


def train_step(model: nn.Module, compiled: Any, x: torch.Tensor | None = None) -> None:
    x = torch.ones(3, 4) if x is None else x
    model(x).pow(2).sum().backward()
    compiled.optimizer.step()
    compiled.scheduler.step()
    compiled.optimizer.zero_grad()


# --- registry and optimizer structure ------------------------------------------------------


def test_registry_loads_the_torch_target() -> None:
    from lrspec_torch.target import TARGET, TorchTarget

    target = lrspec.get_target("torch")
    assert target is TARGET and isinstance(target, TorchTarget)
    assert (target.name, target.extra) == ("torch", "lrspec[torch]")
    listed = target.parameters(Net())  # name -> ParamMeta (shape, owning module): contract K4
    assert {n: meta.shape for n, meta in listed.items()} == {
        "enc.weight": (5, 4),
        "enc.bias": (5,),
        "mid.weight": (5, 5),
        "mid.bias": (5,),
        "head.weight": (2, 5),
        "head.bias": (2,),
    }


@pytest.mark.parametrize(
    ("optimizer", "cls", "keys"),
    [
        (
            {"type": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.1},
            torch.optim.SGD,
            {"momentum": 0.9, "dampening": 0.1, "nesterov": False},
        ),
        (
            {"type": "adam", "lr": 0.1, "betas": [0.8, 0.9], "amsgrad": True},
            torch.optim.Adam,
            {"betas": (0.8, 0.9), "eps": 1e-8, "amsgrad": True},
        ),
        ({"type": "adamw", "lr": 0.1}, torch.optim.AdamW, {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}),
        (
            {"type": "rmsprop", "lr": 0.1, "centered": True},
            torch.optim.RMSprop,
            {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": True},
        ),
        (
            {"type": "adagrad", "lr": 0.1, "lr_decay": 0.5},
            torch.optim.Adagrad,
            {"lr_decay": 0.5, "eps": 1e-10, "initial_accumulator_value": 0.0},
        ),
    ],
)
def test_family_class_and_group_dicts(optimizer: dict[str, Any], cls: type, keys: dict[str, Any]) -> None:
    model = Net()
    groups = [
        {"name": "head", "params": ["head.*"], "lr_mult": 0.5},
        {"name": "nodecay", "params": ["*.bias"], "weight_decay": 0.0},
    ]
    compiled = lrspec.compile(spec({**optimizer, "weight_decay": 0.01}, groups), model, target="torch")
    opt = compiled.optimizer
    assert type(opt) is cls
    by_name = {g["name"]: g for g in opt.param_groups}
    assert set(by_name) == {"default", "nodecay", "head", "head+nodecay"}
    assert by_name["default"]["lr"] == 0.1 and by_name["default"]["weight_decay"] == 0.01
    assert by_name["head"]["lr"] == 0.1 * 0.5 and by_name["head+nodecay"]["weight_decay"] == 0.0
    for g in opt.param_groups:
        for k, v in keys.items():
            assert g[k] == v, (g["name"], k)
    assert [p for p in by_name["head"]["params"]] == [model.head.weight]
    assert "name: head+nodecay" in repr(opt)
    # every parameter is in exactly one group
    assert sum(len(g["params"]) for g in opt.param_groups) == 6


def test_fifty_rules_with_three_distinct_settings_give_three_groups() -> None:
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(25)])
    rules = [{"name": f"r{i}", "params": [f"{i}.*"], "lr_mult": [1.0, 0.5, 0.25][i % 3]} for i in range(25)]
    rules += [{"name": f"b{i}", "params": [f"{i}.bias"], "optional": True} for i in range(25)]
    compiled = lrspec.compile(spec({"type": "adam", "lr": 1e-3}, rules), model, target="torch")
    lrs = sorted(g["lr"] for g in compiled.optimizer.param_groups)
    assert lrs == [0.25e-3, 0.5e-3, 1e-3]
    assert sum(len(g["params"]) for g in compiled.optimizer.param_groups) == 50


def test_default_implementation_choice_and_passthrough() -> None:
    def impl(optimizer: dict[str, Any], model: nn.Module | None = None, **options: Any) -> tuple[Any, Any]:
        c = lrspec.compile(spec(optimizer), model or Net(), target="torch", **options)
        return c.optimizer.defaults.get("foreach"), c.optimizer.defaults.get("fused")

    assert impl({"type": "adam"}) == (None, True)
    assert impl({"type": "adamw"}) == (None, True)
    assert impl({"type": "sgd"}) == (True, None)  # never fused by default: GradScaler skip bug (docs/integrations.md)
    assert impl({"type": "adagrad"}) == (None, True)
    assert impl({"type": "rmsprop"}) == (True, None)
    assert impl({"type": "adam"}, foreach=True) == (True, None)
    assert impl({"type": "adam"}, foreach=False) == (False, None)
    sparse = nn.Sequential(nn.Embedding(10, 3, sparse=True))
    assert impl({"type": "sgd"}, sparse) == (False, False)
    with pytest.raises(TargetError, match="cannot be combined"):
        impl({"type": "adam"}, foreach=True, fused=True)
    with pytest.raises(TargetError, match="no fused rmsprop"):
        impl({"type": "rmsprop"}, fused=True)


# --- schedules --------------------------------------------------------------------------


def lrs_over(compiled: Any, steps: int) -> list[list[float]]:
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in compiled.optimizer.param_groups])
        compiled.optimizer.step()
        compiled.scheduler.step()
    return out


def test_group_lrs_follow_the_schedule_in_closed_form() -> None:
    s = spec(
        {"type": "sgd", "lr": 0.1},
        [
            {"name": "head", "params": ["head.*"], "lr_mult": 10.0},
            {
                "name": "enc",
                "params": ["enc.*"],
                "schedule": {
                    "type": "warmup",
                    "steps": 4,
                    "start_mult": 0.2,
                    "then": {"type": "cosine", "decay_steps": 10},
                },
            },
        ],
        schedule={"type": "exponential", "decay_rate": 0.5, "decay_steps": 3, "staircase": True},
    )
    compiled = lrspec.compile(s, Net(), target="torch")
    assert [g["name"] for g in compiled.optimizer.param_groups] == ["enc", "default", "head"]
    got = lrs_over(compiled, 30)
    for t, (enc, default, head) in enumerate(got):
        assert default == pytest.approx(0.1 * 0.5 ** (t // 3), rel=1e-15, abs=0)
        assert head == pytest.approx(1.0 * 0.5 ** (t // 3), rel=1e-15, abs=0)
        want = 0.1 * (0.2 + 0.8 * t / 4) if t < 4 else 0.1 * 0.5 * (1 + math.cos(math.pi * min(t - 4, 10) / 10))
        assert enc == pytest.approx(want, rel=1e-15, abs=1e-18), t
    assert compiled.scheduler.get_last_lr() == [g["lr"] for g in compiled.optimizer.param_groups]
    assert compiled.scheduler.base_lrs == [0.1, 0.1, 1.0]


def test_long_exponential_schedule_has_no_recursive_drift() -> None:
    s = spec({"type": "sgd", "lr": 0.1}, schedule={"type": "exponential", "decay_rate": 0.999, "decay_steps": 1})
    compiled = lrspec.compile(s, {"w": nn.Parameter(torch.zeros(2))}, target="torch")
    lrs_over(compiled, 5000)
    assert compiled.optimizer.param_groups[0]["lr"] == 0.1 * math.pow(0.999, 5000 / 1)


# --- freezes ----------------------------------------------------------------------------


def test_freeze_until_discards_gradients_and_starts_fresh_state() -> None:
    model = Net()
    s = spec(
        {"type": "adamw", "lr": 0.01, "weight_decay": 0.5},
        [{"name": "enc", "params": ["enc.*"], "freeze": {"until_step": 3}}],
    )
    compiled = lrspec.compile(s, model, target="torch")
    opt = compiled.optimizer
    enc = next(g for g in opt.param_groups if g["name"] == "enc")
    assert enc["name"] == "enc" and enc["lr"] == 0.0 and enc["initial_lr"] == 0.01
    assert model.enc.weight.requires_grad
    w0 = model.enc.weight.detach().clone()
    for t in range(3):
        train_step(model, compiled)
        assert torch.equal(model.enc.weight, w0), t  # no update, no (decoupled) weight decay
        assert model.enc.weight not in opt.state  # no state
        assert model.head.weight in opt.state
    assert enc["lr"] == 0.01
    train_step(model, compiled)
    assert not torch.equal(model.enc.weight, w0)
    assert opt.state[model.enc.weight]["step"].item() == 1  # fresh state at N
    assert opt.state[model.head.weight]["step"].item() == 4
    # the discarding hook does not depend on who set the gradient
    s2 = spec(
        {"type": "sgd", "lr": 0.1, "weight_decay": 0.1},
        [{"name": "enc", "params": ["enc.*"], "freeze": {"until_step": 1}}],
    )
    m2 = Net()
    c2 = lrspec.compile(s2, m2, target="torch")
    m2.enc.weight.grad = torch.ones_like(m2.enc.weight)
    before = m2.enc.weight.detach().clone()
    c2.optimizer.step()
    assert torch.equal(m2.enc.weight, before) and m2.enc.weight.grad is None


def test_permanent_freeze_leaves_params_out_and_turns_off_requires_grad() -> None:
    model = Net()
    s = spec({"type": "adam", "lr": 0.01, "weight_decay": 0.1}, [{"name": "enc", "params": ["enc.*"], "freeze": True}])
    compiled = lrspec.compile(s, model, target="torch")
    in_opt = {id(p) for g in compiled.optimizer.param_groups for p in g["params"]}
    assert id(model.enc.weight) not in in_opt and id(model.mid.weight) in in_opt
    assert not model.enc.weight.requires_grad and not model.enc.bias.requires_grad
    w0 = model.enc.weight.detach().clone()
    for _ in range(3):
        train_step(model, compiled)
    assert torch.equal(model.enc.weight, w0) and model.enc.weight.grad is None

    kept = Net()
    lrspec.compile(s, kept, target="torch", set_requires_grad=False)
    assert kept.enc.weight.requires_grad


def test_skip_frozen_backward_toggles_requires_grad_at_the_unfreeze_step() -> None:
    model = Net()
    s = spec({"type": "sgd", "lr": 0.1}, [{"name": "enc", "params": ["enc.*"], "freeze": {"until_step": 2}}])
    compiled = lrspec.compile(s, model, target="torch", skip_frozen_backward=True)
    assert not model.enc.weight.requires_grad
    train_step(model, compiled)
    assert model.enc.weight.grad is None and not model.enc.weight.requires_grad
    train_step(model, compiled)
    assert model.enc.weight.requires_grad  # t = 2: trains from now on
    w = model.enc.weight.detach().clone()
    train_step(model, compiled)
    assert not torch.equal(model.enc.weight, w)


def test_every_parameter_frozen_is_an_error() -> None:
    with pytest.raises(TargetError, match="permanently frozen"):
        lrspec.compile(spec(groups=[{"name": "all", "params": ["*"], "freeze": True}]), Net(), target="torch")


def test_trained_param_without_requires_grad_warns() -> None:
    model = Net()
    model.mid.weight.requires_grad_(False)
    with pytest.warns(UserWarning, match="mid.weight"):
        lrspec.compile(spec(), model, target="torch")


# --- names, wrappers, tied weights ------------------------------------------------------


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(6, 3)
        self.body = nn.Linear(3, 3)
        self.out = nn.Linear(3, 6, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.body(self.emb(idx))))


def test_tied_parameters_are_listed_under_both_names_and_updated_once() -> None:
    model = Tied()
    assert set(lrspec.get_target("torch").parameters(model)) == {"emb.weight", "body.weight", "body.bias", "out.weight"}
    s = spec({"type": "sgd", "lr": 0.1}, [{"name": "tied", "params": ["emb.weight", "out.weight"], "lr_mult": 2.0}])
    compiled = lrspec.compile(s, model, target="torch")
    tied = next(g for g in compiled.optimizer.param_groups if g["name"] == "tied")
    assert len(tied["params"]) == 1 and tied["params"][0] is model.emb.weight
    w0 = model.emb.weight.detach().clone()
    model.emb.weight.grad = torch.ones_like(w0)
    compiled.optimizer.step()
    assert torch.allclose(model.emb.weight, w0 - 0.2, rtol=0, atol=1e-7)  # once, lr 0.1 * 2


def test_tied_parameters_with_conflicting_settings_name_both() -> None:
    s = spec({"type": "sgd", "lr": 0.1}, [{"name": "head", "params": ["out.*"], "lr_mult": 2.0}])
    with pytest.raises(ResolveError, match=r"'emb.weight' and 'out.weight'.*group 'default'.*group 'head'"):
        lrspec.compile(s, Tied(), target="torch")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wrapped_models_use_the_inner_names() -> None:
    model = Net()
    groups = [
        {"name": "body", "params": ["enc.*", "mid.*"], "lr_mult": 0.5},
        {"name": "head", "params": ["head.*"], "lr_mult": 2.0},
    ]
    s = spec({"type": "sgd", "lr": 0.1}, groups, unmatched="error")
    dp = lrspec.compile(s, nn.DataParallel(model), target="torch")  # CPU: DataParallel just calls the module
    assert dp.plan.names[0] == "enc.weight"
    compiled_model = torch.compile(model)  # OptimizedModule, prefix _orig_mod. (nothing is compiled here)
    c = lrspec.compile(s, compiled_model, target="torch")
    assert [g["name"] for g in c.optimizer.param_groups] == ["body", "head"]
    from lrspec_torch.names import canonical_name

    assert canonical_name("blocks.0._fsdp_wrapped_module._checkpoint_wrapped_module.fc.weight") == "blocks.0.fc.weight"


def test_named_parameter_iterables_and_mappings() -> None:
    model = Net()
    s = spec({"type": "sgd", "lr": 0.1}, [{"name": "head", "params": ["head.*"], "lr_mult": 2.0}])
    c = lrspec.compile(s, model.named_parameters(), target="torch")  # a one-shot generator
    assert sum(len(g["params"]) for g in c.optimizer.param_groups) == 6
    c = lrspec.compile(s, dict(model.named_parameters()), target="torch")
    assert c.plan.names == tuple(n for n, _ in model.named_parameters())


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (42, "got int"),
        ("model.pt", "got str"),
        (torch.zeros(3), "single Tensor"),
        ([torch.zeros(3, requires_grad=True)], "model.parameters"),
        ([("w", [1.0, 2.0])], "not a torch Tensor"),
        ([("w", torch.zeros(3, requires_grad=True) * 2)], "not a leaf"),
        ([("w", torch.zeros(3, dtype=torch.int64))], "floating-point"),
        ([("w", nn.Parameter(torch.zeros(1))), ("w", nn.Parameter(torch.zeros(1)))], "appears twice"),
    ],
)
def test_bad_models_are_one_clear_error(model: Any, match: str) -> None:
    with pytest.raises(TargetError, match=match):
        lrspec.compile(spec(), model, target="torch")


def test_bad_options_and_foreign_plans() -> None:
    with pytest.raises(TargetError, match="did you mean 'fused'"):
        lrspec.compile(spec(), Net(), target="torch", fussed=True)
    with pytest.raises(TargetError, match="expected True, False or None"):
        lrspec.compile(spec(), Net(), target="torch", foreach="yes")
    plan = lrspec.resolve(lrspec.as_spec(spec()), ["a.weight", "enc.weight"])
    with pytest.raises(TargetError, match=r"not in the model: a.weight"):
        lrspec.get_target("torch").compile(plan, Net())


# --- checkpoints --------------------------------------------------------------------------

FREEZE_SPEC = spec(
    {"type": "adam", "lr": 0.01, "weight_decay": 0.01},
    [
        {"name": "enc", "params": ["enc.*"], "freeze": {"until_step": 2}},
        {"name": "head", "params": ["head.*"], "lr_mult": 3.0},
    ],
    schedule={"type": "cosine", "decay_steps": 10},
)


def test_scheduler_state_is_plain_data_and_checked() -> None:
    import io

    c = lrspec.compile(FREEZE_SPEC, Net(), target="torch")
    for _ in range(4):
        train_step(Net(), c)
    state = c.scheduler.state_dict()
    assert state["t"] == 4 and state["fingerprint"] == c.plan.fingerprint
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True) == state

    fresh = lrspec.compile(FREEZE_SPEC, Net(), target="torch")
    fresh.scheduler.load_state_dict(state)
    assert [g["lr"] for g in fresh.optimizer.param_groups] == [g["lr"] for g in c.optimizer.param_groups]
    assert fresh.scheduler.t == 4

    other = lrspec.compile({**FREEZE_SPEC, "schedule": {"type": "constant"}}, Net(), target="torch")
    with pytest.raises(CheckpointError, match="different plan"):
        other.scheduler.load_state_dict(state)
    lam = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1), lambda t: 1.0)
    with pytest.raises(CheckpointError, match="not an lrspec torch scheduler state"):
        fresh.scheduler.load_state_dict(lam.state_dict())
    with pytest.raises(CheckpointError, match="t = -1"):
        fresh.scheduler.load_state_dict({**state, "t": -1})
    with pytest.raises(CheckpointError, match="must be a dict"):
        fresh.scheduler.load_state_dict([1, 2])  # type: ignore[arg-type]


def test_optimizer_state_from_another_spec_is_refused() -> None:
    model = Net()
    c = lrspec.compile(FREEZE_SPEC, model, target="torch")
    train_step(model, c)
    state = c.optimizer.state_dict()
    regrouped = lrspec.compile(spec({"type": "adam", "lr": 0.01, "weight_decay": 0.01}), Net(), target="torch")
    # groups are ordered by when they start training (enc is frozen until 3): see lrspec_torch.optimizer
    with pytest.raises(CheckpointError, match=r"param groups are \['default', 'head', 'enc'\]"):
        regrouped.optimizer.load_state_dict(state)
    other_wd = {**FREEZE_SPEC, "optimizer": {"type": "adam", "lr": 0.01, "weight_decay": 0.02}}
    with pytest.raises(CheckpointError, match=r"weight_decay=0\.01, the plan says 0\.02"):
        lrspec.compile(other_wd, Net(), target="torch").optimizer.load_state_dict(state)
    hand = torch.optim.Adam(Net().parameters())
    with pytest.raises(CheckpointError, match="not saved from an lrspec-compiled optimizer"):
        lrspec.compile(FREEZE_SPEC, Net(), target="torch").optimizer.load_state_dict(hand.state_dict())
    with pytest.raises(CheckpointError, match="corrupt"):
        lrspec.compile(FREEZE_SPEC, Net(), target="torch").optimizer.load_state_dict({"param_groups": 3})


def test_load_order_does_not_matter_and_implementation_flags_are_kept() -> None:
    model = Net()
    c = lrspec.compile(FREEZE_SPEC, model, target="torch", foreach=True)
    for _ in range(3):
        train_step(model, c)
    saved = c.state_dict()
    a = lrspec.compile(FREEZE_SPEC, Net(), target="torch")  # fused by default
    a.scheduler.load_state_dict(saved["scheduler"])
    a.optimizer.load_state_dict(saved["optimizer"])
    b = lrspec.compile(FREEZE_SPEC, Net(), target="torch")
    b.load_state_dict(saved)
    for x in (a, b):
        assert [g["lr"] for g in x.optimizer.param_groups] == [g["lr"] for g in c.optimizer.param_groups]
        assert all(g["fused"] is True and g["foreach"] is None for g in x.optimizer.param_groups)


def test_describe_lists_groups_lrs_and_freezes() -> None:
    c = lrspec.compile(FREEZE_SPEC, Net(), target="torch")
    lines = c.describe().splitlines()
    assert lines[0] == "torch.optim.Adam (foreach=None, fused=True): 3 param group(s), t = 0"
    row = {line.split()[0]: line.split() for line in lines[3:6]}
    assert row["enc"][1:] == ["2", "25", "0", "0.01"]  # tensors, numel, lr@0 (frozen until 2), wd
    assert row["head"][1:] == ["2", "12", "0.03", "0.01"]
    assert "until 2" in c.describe()  # the plan table follows
    later = c.describe(t=5).splitlines()
    assert later[0].endswith("t = 5")
    # cosine over 10 updates at t = 5: m = 0.5
    assert {line.split()[0]: line.split()[3] for line in later[3:6]}["head"] == "0.015"
    assert "enc.weight" in c.describe(params=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert str(c) == c.describe()
