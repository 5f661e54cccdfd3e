"""Lightning automatic optimization (its closure) with lrspec vs a hand-written loop, and resume.

Hand-written: stock SGD(momentum 0.9), layer 0 ``requires_grad=False`` until update UNTIL and then a
fresh param group, lr ``0.1 * 0.5 ** (t / 4)`` written here. Resume: the uninterrupted 12-update run
saves ``step=K.ckpt`` every 2 updates (ModelCheckpoint during ``fit``); a fresh Trainer resumed from
step 2 (mid-epoch, before the freeze of layer 0 ends at 3) or step 8 (mid-epoch, after it) ends
bitwise where the uninterrupted run ends. The module ``lrspec --emit python`` generates for the spec
does the same under Lightning's closure.
"""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning")
import torch
from _torch_integration import load_example
from lrspec_torch.clock import LrSpecClockWarning

import lrspec
from lrspec.tools.emit import emit_python

pytestmark = pytest.mark.slow
ex = load_example("torch_lightning")
STEPS = 12


def hand_written(steps: int, clip: float | None = None) -> torch.nn.Module:
    module = ex.Module()
    net: torch.nn.Sequential = module.net
    first = list(net[0].parameters())
    for p in first:
        p.requires_grad_(False)
    opt = torch.optim.SGD(net[2].parameters(), lr=0.1, momentum=0.9)
    x, y = ex.data().tensors
    for t in range(steps):
        if t == ex.UNTIL:
            for p in first:
                p.requires_grad_(True)
            opt.add_param_group({"params": first})
        for g in opt.param_groups:
            g["lr"] = 0.1 * 0.5 ** (t / 4)
        b = slice(4 * (t % 6), 4 * (t % 6) + 4)
        torch.nn.functional.mse_loss(net(x[b]), y[b]).backward()  # type: ignore[no-untyped-call]
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        opt.zero_grad()
    return net


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("lightning_full")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LrSpecClockWarning)
        module = ex.train(str(out), STEPS)
    return out, module


def test_lightning_closure_matches_hand_written(full: tuple[Path, Any]) -> None:
    ref = hand_written(STEPS)
    for (n, p), q in zip(full[1].net.named_parameters(), ref.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), n


def test_checkpoint_mid_freeze_holds_no_state_for_frozen_parameters(full: tuple[Path, Any]) -> None:
    ck = torch.load(full[0] / "checkpoints" / "step=2.ckpt", weights_only=False)
    assert ck["global_step"] == 2 and ck["lr_schedulers"][0]["t"] == 2
    groups = {g["name"]: g["params"] for g in ck["optimizer_states"][0]["param_groups"]}
    assert set(ck["optimizer_states"][0]["state"]) == set(groups["default"])  # "body" (frozen until 3): none
    assert ck["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"batches": 2}]


@pytest.mark.parametrize("k", [2, 8])
def test_lightning_resume_is_bitwise(tmp_path: Path, full: tuple[Path, Any], k: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", LrSpecClockWarning)
        warnings.filterwarnings("error", ".*checkpoint that ended before the epoch ended.*")
        resumed = ex.train(str(tmp_path), STEPS, ckpt=str(full[0] / "checkpoints" / f"step={k}.ckpt"))
    for (n, p), q in zip(resumed.net.named_parameters(), full[1].net.parameters()):
        assert torch.equal(p, q), n


class EmittedModule(ex.Module):  # type: ignore[name-defined,misc]
    """``configure_optimizers`` builds the optimizer and scheduler with the generated module."""

    def __init__(self, generated: types.ModuleType) -> None:
        super().__init__()
        self.generated = generated

    def configure_optimizers(self) -> Any:
        optimizer, scheduler = self.generated.build(self)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


@pytest.fixture(scope="module")
def generated() -> types.ModuleType:
    """The module ``--emit python`` writes for ex.SPEC (``build(model) -> (optimizer, scheduler)``)."""
    plan = lrspec.compile(ex.SPEC, ex.Module(), target="torch").plan  # a throwaway instance: its own gates
    module = types.ModuleType("lrspec_emitted_lightning")
    sys.modules[module.__name__] = module
    try:
        exec(compile(emit_python(plan, "torch"), "<emitted>", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def test_emitted_module_under_lightning_closure_matches_hand_written(
    tmp_path: Path, generated: types.ModuleType
) -> None:
    module = ex.train(str(tmp_path), STEPS, module=EmittedModule(generated))
    ref = hand_written(STEPS)
    for (n, p), q in zip(module.net.named_parameters(), ref.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), n


@pytest.mark.parametrize("how", ["compile", "emitted"])
def test_lightning_gradient_clipping_ignores_frozen_gradients(
    tmp_path: Path, generated: types.ModuleType, how: str
) -> None:
    """``gradient_clip_val`` clips inside the closure, after backward: the frozen layer's gradients
    must not count in the norm (hand-written: ``requires_grad=False`` then clip)."""
    clip = 0.05
    module = ex.train(str(tmp_path), STEPS, module=EmittedModule(generated) if how == "emitted" else None, clip=clip)
    ref = hand_written(STEPS, clip=clip)
    unclipped = hand_written(STEPS)
    for (n, p), q, r in zip(module.net.named_parameters(), ref.parameters(), unclipped.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), n
        assert not torch.allclose(q, r, rtol=0, atol=1e-3), n  # the clip is active


class EpochIntervalModule(ex.Module):  # type: ignore[name-defined,misc]
    """The mistake: the scheduler returned plainly, so Lightning steps it once per epoch."""

    def configure_optimizers(self) -> Any:
        c = lrspec.compile(ex.SPEC, self, target="torch")
        return {"optimizer": c.optimizer, "lr_scheduler": c.scheduler}


def test_lightning_default_epoch_interval_warns(tmp_path: Path) -> None:
    with pytest.warns(LrSpecClockWarning, match='lrspec.*"interval": "step"'):
        ex.train(str(tmp_path), 24, module=EpochIntervalModule())  # 4 epochs: t = 3 after 24 updates
