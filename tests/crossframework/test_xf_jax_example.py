"""examples/jax_finetune.py: the JAX/optax training loop runs as a script, prints each group's
lr, and its first update is Adam's (torch's rule) with each group's lr."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "jax_finetune.py"


def test_runs_as_a_script_and_prints_the_group_lrs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--steps", "3"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    updates = [line for line in out.splitlines() if line.startswith("update ")]
    assert [line.split(":")[0] for line in updates] == ["update 0", "update 1", "update 2"]
    # finetune_cnn.yaml: conv* at 1e-5, fc* at 1e-3, constant
    assert all(line.endswith("lr: conv 1e-05, dense 1e-03") for line in updates), out
    assert "optax GradientTransformation, adam" in out


def test_first_update_is_adams_step_with_each_groups_lr() -> None:
    import jax

    ex = runpy.run_path(str(SCRIPT), run_name="jax_finetune")
    run = ex["train"](1, verbose=False)
    plan = run["compiled"].plan
    x, y = run["batches"][0]
    grads = jax.grad(ex["loss_fn"])(run["params0"], x, y)
    eps = plan.groups[0].hyperparameters["eps"]
    for layer, leaves in run["params"].items():
        lr = 1e-5 if layer.startswith("conv") else 1e-3  # finetune_cnn.yaml: conv* / fc*
        assert plan.group_of(f"{layer}.kernel").lr == lr
        for leaf, p1 in leaves.items():
            p0 = np.asarray(run["params0"][layer][leaf], np.float64)
            g = np.asarray(grads[layer][leaf], np.float64)
            # Adam's first step (bias-corrected m = g, v = g^2): p1 = p0 - lr * g / (|g| + eps)
            want = p0 - lr * g / (np.abs(g) + eps)
            err = np.abs(np.asarray(p1, np.float64) - want)
            assert np.all(err <= 2 * np.spacing(np.abs(want).astype(np.float32)) + 1e-5 * lr), (layer, leaf)
            assert np.abs(np.asarray(p1) - p0).max() > 0.5 * lr  # it moved by about lr
