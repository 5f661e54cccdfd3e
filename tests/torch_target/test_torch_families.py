"""The issue-14 families (nadam, radam, adamax, adadelta, adafactor, muon) in the torch target.

* against lrspec.reference in float64 (1e-12 relative), with a warmup + cosine schedule, a group
  frozen until update UNTIL, per-group overrides and some missing gradients, every
  implementation torch has for the family;
* against the stock ``torch.optim`` class built by hand with the same settings (bitwise, float64);
* a checkpoint of each family's state loads back (its state keys and buffer shapes: Adafactor's
  factored row/column variances, NAdam's ``mu_product``) and a foreign one is refused.
Muon takes only the 2-D parameters (the rest is AdamW: one HybridOptimizer); its reference is
the exact float64 Newton-Schulz, so the target runs with ``newton_schulz_dtype="float64"``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from _lrspec_torch_helpers import (  # noqa: E402
    SHAPES,
    assert_close_float64,
    gradient_sequence,
    initial_values,
    make_params,
    run_updates,
)

import lrspec  # noqa: E402
from lrspec import reference  # noqa: E402
from lrspec.errors import CheckpointError  # noqa: E402

STEPS = 30
UNTIL = 7
SCHEDULE = {"type": "warmup", "steps": 5, "start_mult": 0.1, "then": {"type": "cosine", "decay_steps": 25}}

VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (optimizer section, per-group override on the "head" group)
    "nadam": ({"type": "nadam", "lr": 0.01, "weight_decay": 0.01}, {"momentum_decay": 0.01}),
    "nadam_decoupled": ({"type": "nadam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, {}),
    "radam": ({"type": "radam", "lr": 0.01, "weight_decay": 0.01}, {"betas": [0.8, 0.99]}),
    "radam_decoupled": ({"type": "radam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, {}),
    "adamax": ({"type": "adamax", "lr": 0.01, "weight_decay": 0.01}, {"eps": 1e-6}),
    "adadelta": ({"type": "adadelta", "lr": 1.0, "weight_decay": 0.01}, {"rho": 0.8}),
    "adafactor": ({"type": "adafactor", "lr": 0.01, "weight_decay": 0.05}, {"beta2_decay": -0.7}),
    "adafactor_eps1": ({"type": "adafactor", "lr": 0.01, "eps": [1e-30, 1e-3], "d": 2.0}, {}),
}
MUON: dict[str, dict[str, Any]] = {
    "muon": {"type": "muon"},
    "muon_plain_momentum": {"type": "muon", "nesterov": False, "momentum": 0.9},
    "muon_match_rms_adamw": {"type": "muon", "adjust_lr_fn": "match_rms_adamw", "ns_steps": 3},
}
IMPLEMENTATIONS: list[dict[str, bool]] = [{"foreach": False}, {"foreach": True}]


def make_spec(variant: str) -> dict[str, Any]:
    enc = {"name": "enc", "params": ["enc.*"], "freeze": {"until_step": UNTIL}}
    bias = {"name": "bias", "params": ["*.bias"], "decay_mult": 0.0}
    if variant in MUON:
        matrices = {"name": "matrices", "params": ["*"], "ndim": 2, "optimizer": MUON[variant], "lr": 0.02}
        return {
            "version": 1,
            "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
            "schedule": SCHEDULE,
            "groups": [matrices, enc, bias],
        }
    optimizer, head_extra = VARIANTS[variant]
    return {
        "version": 1,
        "optimizer": optimizer,
        "schedule": SCHEDULE,
        "groups": [enc, {"name": "head", "params": ["head.*"], "lr_mult": 3.0, **head_extra}, bias],
    }


INITIAL = initial_values()
GRADIENTS = gradient_sequence(STEPS)
_REF: dict[str, list[dict[str, np.ndarray]]] = {}


def reference_run(variant: str) -> list[dict[str, np.ndarray]]:
    if variant not in _REF:
        plan = lrspec.resolve(lrspec.Spec.model_validate(make_spec(variant)), {n: v.shape for n, v in INITIAL.items()})
        _REF[variant] = reference.simulate(plan, INITIAL, GRADIENTS)
    return _REF[variant]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_reference_float64(variant: str, impl: dict[str, bool]) -> None:
    params = make_params(INITIAL, torch.float64)
    compiled = lrspec.compile(make_spec(variant), params, target="torch", **impl)
    got = run_updates(compiled, params, GRADIENTS)
    # torch keeps NAdam's mu_product as a float32 scalar tensor (_get_scalar_dtype() is float32
    # unless the default dtype is float64): about 1e-10 relative from the exact float64 product
    assert_close_float64(got, reference_run(variant), rel=1e-9 if variant.startswith("nadam") else 1e-12)
    assert np.array_equal(got[UNTIL]["enc.weight"], INITIAL["enc.weight"])
    assert not np.array_equal(got[UNTIL + 1]["enc.weight"], INITIAL["enc.weight"])


@pytest.mark.parametrize("variant", list(MUON))
def test_muon_hybrid_matches_reference_float64(variant: str) -> None:
    params = make_params(INITIAL, torch.float64)
    compiled = lrspec.compile(make_spec(variant), params, target="torch", newton_schulz_dtype="float64")
    assert type(compiled.optimizer).__name__ == "HybridOptimizer"
    got = run_updates(compiled, params, GRADIENTS)
    assert_close_float64(got, reference_run(variant), rel=1e-11)


def test_muon_stock_bfloat16_stays_near_the_reference() -> None:
    """Without newton_schulz_dtype: torch's own bfloat16 iteration (here a bound, not equality)."""
    params = make_params(INITIAL, torch.float64)
    compiled = lrspec.compile(make_spec("muon"), params, target="torch")
    got = run_updates(compiled, params, GRADIENTS)
    ref = reference_run("muon")
    for n in ("enc.weight", "head.weight"):
        moved = float(np.max(np.abs(ref[-1][n] - INITIAL[n])))
        assert float(np.max(np.abs(got[-1][n] - ref[-1][n]))) <= 0.05 * moved, n


STOCK: dict[str, Any] = {
    "nadam": lambda ps: torch.optim.NAdam(ps, lr=0.01, weight_decay=0.01, momentum_decay=0.01, foreach=False),
    "radam": lambda ps: torch.optim.RAdam(ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, foreach=False),
    "adamax": lambda ps: torch.optim.Adamax(ps, lr=0.01, betas=(0.8, 0.9), foreach=False),
    "adadelta": lambda ps: torch.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-5, foreach=False),
    "adafactor": lambda ps: torch.optim.Adafactor(
        ps, lr=0.02, beta2_decay=-0.7, eps=(None, 1e-2), d=1.5, foreach=False
    ),
    "muon": lambda ps: torch.optim.Muon(
        ps, lr=0.02, weight_decay=0.2, momentum=0.9, ns_steps=4, adjust_lr_fn="original"
    ),
}
STOCK_SPECS: dict[str, dict[str, Any]] = {
    "nadam": {"type": "nadam", "lr": 0.01, "weight_decay": 0.01, "momentum_decay": 0.01},
    "radam": {"type": "radam", "lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    "adamax": {"type": "adamax", "lr": 0.01, "betas": [0.8, 0.9]},
    "adadelta": {"type": "adadelta", "lr": 0.5, "rho": 0.8, "eps": 1e-5},
    "adafactor": {"type": "adafactor", "lr": 0.02, "beta2_decay": -0.7, "eps": [None, 1e-2], "d": 1.5},
    "muon": {
        "type": "muon",
        "lr": 0.02,
        "weight_decay": 0.2,
        "momentum": 0.9,
        "ns_steps": 4,
        "adjust_lr_fn": "original",
    },
}


@pytest.mark.parametrize("family", list(STOCK))
def test_is_the_stock_torch_optimizer(family: str) -> None:
    names = [n for n in SHAPES if family != "muon" or len(SHAPES[n]) == 2]
    ours = make_params({n: INITIAL[n] for n in names}, torch.float64)
    theirs = make_params({n: INITIAL[n] for n in names}, torch.float64)
    compiled = lrspec.compile({"version": 1, "optimizer": STOCK_SPECS[family]}, ours, target="torch", foreach=False)
    stock = STOCK[family](list(theirs.values()))
    assert type(compiled.optimizer) is type(stock)
    for grads in GRADIENTS[:12]:
        for params in (ours, theirs):
            for n, p in params.items():
                g = grads[n]
                p.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
        compiled.optimizer.step()
        compiled.scheduler.step()
        stock.step()
    for n in names:
        assert torch.equal(ours[n], theirs[n]), n


@pytest.mark.parametrize("variant", [*VARIANTS, "muon"])
def test_checkpoint_of_each_family_loads_back(variant: str) -> None:
    params = make_params(INITIAL, torch.float64)
    compiled = lrspec.compile(make_spec(variant), params, target="torch")
    run_updates(compiled, params, GRADIENTS[: UNTIL + 2])
    state = compiled.state_dict()
    fresh_params = make_params(INITIAL, torch.float64)
    fresh = lrspec.compile(make_spec(variant), fresh_params, target="torch")
    fresh.load_state_dict(copy.deepcopy(state))
    a, b = compiled.optimizer.state_dict()["state"], fresh.optimizer.state_dict()["state"]
    assert a.keys() == b.keys() and a
    for k in a:
        for key in a[k]:
            assert torch.equal(torch.as_tensor(a[k][key]), torch.as_tensor(b[k][key])), (k, key)
    # a buffer of the wrong shape is refused, and nothing is loaded
    bad = copy.deepcopy(state)
    entry = next(
        v for v in bad["optimizer"]["state"].values() if any(torch.is_tensor(x) and x.ndim for x in v.values())
    )
    key = next(k for k, x in entry.items() if torch.is_tensor(x) and x.ndim)
    entry[key] = torch.zeros(*entry[key].shape, 2, dtype=torch.float64)
    other_params = make_params(INITIAL, torch.float64)
    other = lrspec.compile(make_spec(variant), other_params, target="torch")
    with pytest.raises(CheckpointError, match="shape"):
        other.load_state_dict(bad)
    assert len(other.optimizer.state) == 0


def test_a_state_of_another_family_is_refused() -> None:
    params = make_params(INITIAL, torch.float64)
    nadam = lrspec.compile(make_spec("nadam"), params, target="torch")
    run_updates(nadam, params, GRADIENTS[:2])
    radam = lrspec.compile(make_spec("radam"), make_params(INITIAL, torch.float64), target="torch")
    with pytest.raises(CheckpointError):
        radam.optimizer.load_state_dict(nadam.optimizer.state_dict())


def test_implementation_choices() -> None:
    """fused kernels (torch 2.13): sgd, adam, adamw, adagrad; foreach: all but muon."""
    from lrspec.errors import TargetError

    def compile_(spec_optimizer: dict[str, Any], **options: Any) -> Any:
        names = {n: v for n, v in INITIAL.items() if len(v.shape) == 2}
        return lrspec.compile({"version": 1, "optimizer": spec_optimizer}, make_params(names, torch.float32), **options)

    assert compile_({"type": "nadam"}).optimizer.defaults["foreach"] is True  # lrspec's default: foreach
    assert compile_({"type": "adamw"}).optimizer.defaults["fused"] is True  # fused on CPU
    with pytest.raises(TargetError, match="no fused nadam"):
        compile_({"type": "nadam"}, fused=True)
    with pytest.raises(TargetError, match="no foreach muon"):
        compile_({"type": "muon"}, foreach=True)
    assert type(compile_({"type": "muon"}, foreach=False, fused=False).optimizer) is torch.optim.Muon
    # several families: an explicit flag applies to the families that have it
    mixed = lrspec.compile(make_spec("muon"), make_params(INITIAL, torch.float32), foreach=True)
    kinds = dict(zip(mixed.optimizer.families, mixed.optimizer.optimizers))
    assert kinds["adamw"].defaults["foreach"] is True and "foreach" not in kinds["muon"].defaults
