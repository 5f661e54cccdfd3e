"""`lrspec plot`: curves against the schedule formulas, the sparkline table, the image."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shlex
from pathlib import Path

import pytest

import lrspec
from lrspec.tools.cli import main
from lrspec.tools.plotting import plan_curves, sparkline, spec_curves

SPEC = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1},
    "schedule": {"type": "cosine", "decay_steps": 10},
    "unmatched": "train",
    "groups": [
        {"name": "body", "params": ["body.*"], "lr_mult": 0.5, "freeze": {"until_step": 4}},
        {"name": "head", "params": ["head.*"], "lr": 0.2, "schedule": {"type": "step", "step_size": 3, "gamma": 0.5}},
        {"name": "stem", "params": ["stem.*"], "freeze": True},
    ],
}


def run(cmdline: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(shlex.split(cmdline))
    return code, out.getvalue(), err.getvalue()


def _cos(t: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(t, 10) / 10))


def test_spec_curves_follow_the_formulas() -> None:
    curves = {c.name: c for c in spec_curves(lrspec.Spec.model_validate(SPEC), 15)}
    assert list(curves) == ["body", "head", "stem", "default"]
    for t in range(15):
        assert curves["body"].values[t] == pytest.approx(0.0 if t < 4 else 0.05 * _cos(t), abs=1e-15)
        assert curves["head"].values[t] == pytest.approx(0.2 * 0.5 ** (t // 3))
        assert curves["default"].values[t] == pytest.approx(0.1 * _cos(t), abs=1e-15)
    assert curves["stem"].frozen and set(curves["stem"].values) == {0.0}
    assert curves["body"].frozen_until == 4


def test_plan_curves_one_per_group() -> None:
    plan = lrspec.resolve(lrspec.Spec.model_validate(SPEC), ["body.w", "head.w", "stem.w", "other"])
    curves = plan_curves(plan, 5)
    assert [c.name for c in curves] == [g.name for g in plan.groups]
    assert [c.values for c in curves] == [tuple(g.lr_at(t) for t in range(5)) for g in plan.groups]


def test_sparkline() -> None:
    assert sparkline([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([0.0, 0.0, 1.0, 1.0], 4) == "  ██"
    assert sparkline([1.0, 10.0, 100.0], 3, log=True) == "▁▅█"
    assert len(sparkline([float(t) for t in range(1000)], 40)) == 40


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SPEC))
    return p


def test_plot_text_table(spec_file: Path) -> None:
    code, out, _ = run(f"plot {spec_file} --steps 12")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["group", "lr@0", "lr@11", "min", "max", "0", "..", "11"]
    head = lines[3].split()
    assert head[:3] == ["head", "0.2", "0.025"]  # 0.2 * 0.5**(11 // 3)
    assert lines[4].split()[:2] == ["stem", "0"] and lines[4].rstrip().endswith("frozen")


def test_plot_json(spec_file: Path) -> None:
    doc = json.loads(run(f"plot {spec_file} --steps 6 --format json")[1])
    assert doc["format"] == "lrspec.curves/1" and doc["steps"] == 6
    assert doc["curves"][1]["lr"] == pytest.approx([0.2, 0.2, 0.2, 0.1, 0.1, 0.1])


def test_plot_image(spec_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "lr.png"
    code, _, err = run(f"plot {spec_file} --steps 30 -o {out} --log")
    assert code == 0 and err == f"wrote {out} (4 curves, 30 steps)\n"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
