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


def _image_lines(curves: list, log: bool | None = None) -> tuple[str, list]:
    pytest.importorskip("matplotlib")
    from lrspec.tools.plotting import make_figure

    fig = make_figure(curves, log=log)
    try:
        ax = fig.axes[0]
        return ax.get_yscale(), [(line.get_label(), line.get_linestyle(), list(line.get_ydata())) for line in ax.get_lines()]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_plot_switches_to_log_axis_when_rates_span_more_than_10x() -> None:
    from lrspec.tools.plotting import LOG_SPAN, choose_log

    # the bundled example: 1e-5 pretrained groups next to a 1e-3 head (a 100x span)
    curves = spec_curves(lrspec.load("examples/finetune_cnn.yaml"), 20)
    positive = [v for c in curves for v in c.values if v > 0]
    assert max(positive) / min(positive) > LOG_SPAN
    assert choose_log(curves) is True
    assert choose_log(curves, log=False) is False
    scale, lines = _image_lines(curves)
    assert scale == "log"
    # every trained curve is drawn with its own line, at its own values (nothing flattened to 0)
    trained = [c for c in curves if not c.frozen]
    for c in trained:
        drawn = [ys for label, _, ys in lines if label.split(" (")[0] == c.name]
        assert drawn and min(drawn[0]) > 0 and max(drawn[0]) == pytest.approx(max(c.values))


def test_plot_keeps_linear_axis_within_10x_and_every_curve_visible() -> None:
    from lrspec.tools.plotting import choose_log

    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1},
        "groups": [
            {"name": "a", "params": ["a.*"]},
            {"name": "b", "params": ["b.*"], "lr": 0.1},  # the same curve as a: must not hide it
            {"name": "c", "params": ["c.*"], "lr": 0.02},
            {"name": "frozen", "params": ["f.*"], "freeze": True},
        ],
    }
    curves = spec_curves(lrspec.validate(spec), 5)
    assert choose_log(curves) is False  # 0.1 / 0.02 = 5x
    scale, lines = _image_lines(curves)
    assert scale == "linear"
    by_name = {label.split(" (")[0]: (label, style) for label, style, _ in lines}
    assert {"a", "b", "c", "frozen"} <= set(by_name)
    assert by_name["a"][1] != by_name["b"][1] and "overlaps a" in by_name["b"][0]
    assert "frozen" in by_name["frozen"][0]
