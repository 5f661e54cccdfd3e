"""Class: unbounded input on the tools side. ``--steps`` is capped with a clear error, verify's
memory does not grow with the number of updates, ``explain --format json`` streams, and
listing the names of a large ``.pt`` does not read its tensors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _tools_helpers import GOOD_PARAMS, GOOD_SPEC, run_cli

from lrspec.tools.cli.parser import MAX_PLOT_STEPS, MAX_VERIFY_STEPS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spec.yaml").write_text(GOOD_SPEC)
    (tmp_path / "params.txt").write_text(GOOD_PARAMS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("command", "limit"), [("plot spec.yaml", MAX_PLOT_STEPS), ("verify spec.yaml --params params.txt", MAX_VERIFY_STEPS)]
)
@pytest.mark.parametrize("extra", [1, 10**9, 10**400])
def test_steps_are_capped(work: Path, command: str, limit: int, extra: int) -> None:
    steps = limit + extra
    code, out, err = run_cli(f"{command} --steps {steps}")
    name = command.split()[0]
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"Error: lrspec {name}: argument --steps: ")
    assert len(err) < 300  # a huge number is not echoed in full


def test_caps_are_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    assert f"{MAX_PLOT_STEPS:_}".replace("_", " ") in text or str(MAX_PLOT_STEPS) in text or "10**6" in text
    assert "10**5" in text or str(MAX_VERIFY_STEPS) in text


def test_verify_draws_gradients_one_update_at_a_time() -> None:
    import itertools

    import lrspec
    from lrspec.tools.verify.inputs import synthetic_data

    plan = lrspec.resolve(lrspec.Spec.model_validate({"version": 1, "optimizer": {"type": "sgd"}}), {"w": (4,)})
    _, grads = synthetic_data(plan, {"w": (4,)}, 10**9, 0)  # a list would need 16 GB
    first = list(itertools.islice(grads, 3))
    assert len(first) == 3 and first[0]["w"].shape == (4,)


def _rss_script(body: str) -> float:
    """Run ``body`` in a fresh interpreter; it prints a number (MB), returned here."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)], capture_output=True, text=True, check=True, cwd=ROOT, timeout=600
    )
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_explain_json_streams_a_large_plan(tmp_path: Path) -> None:
    """20k layers, each its own plan group: the JSON is written in chunks, so the peak memory
    is the plan's, not the plan's plus the whole document's (as data and as text)."""
    n = 20_000
    (tmp_path / "big.yaml").write_text(
        "version: 1\noptimizer: {type: adamw, lr: 0.001}\nlayer_decay: {rate: 0.9999, layers: ['blocks.{i}.*']}\n"
    )
    (tmp_path / "big.txt").write_text("".join(f"blocks.{i}.weight 4,4\n" for i in range(n)))
    peak_growth = _rss_script(
        f"""
        import resource, sys, os
        import lrspec
        from lrspec.tools.paramfile import read_params
        plan = lrspec.resolve(lrspec.load({str(tmp_path / 'big.yaml')!r}), read_params({str(tmp_path / 'big.txt')!r}))
        plan.fingerprint
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        from lrspec.tools.cli import main
        sys.stdout = open(os.devnull, "w")
        code = main(["explain", {str(tmp_path / 'big.yaml')!r}, "--params", {str(tmp_path / 'big.txt')!r}, "--format", "json"])
        sys.stdout = sys.__stdout__
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert code == 0
        print(after - before)
        """
    )
    # The run resolves the plan a second time (~the 'before' figure again); the document itself
    # (about 25 MB of text for 20k layers, several times that as Python objects) must not be held.
    assert peak_growth < 150, f"peak RSS grew by {peak_growth:.0f} MB"


@pytest.mark.torch
@pytest.mark.slow
def test_listing_a_large_pt_does_not_load_its_tensors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "big.pt"
    torch.save({"w": torch.zeros(64, 1024, 1024), "b": torch.zeros(3)}, path)  # 256 MB of tensor data
    growth = _rss_script(
        f"""
        import resource
        import torch
        from lrspec_torch.model_files import read_model_file
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        shapes = read_model_file({str(path)!r})
        assert dict(shapes) == {{"w": (64, 1024, 1024), "b": (3,)}}, shapes
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before)
        """
    )
    assert growth < 64, f"reading the names grew the peak RSS by {growth:.0f} MB (the file holds 256 MB)"
