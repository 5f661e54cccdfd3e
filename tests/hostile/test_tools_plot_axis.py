"""Issue 10 friction: ``lrspec plot`` chooses a log lr axis when the rates span more than 10x
(``--log`` / ``--linear`` override), and every curve stays visible: frozen groups (lr 0) have
their own line, identical curves are told apart. Checked on the figure object, not pixels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _tools_helpers import run_cli

import lrspec
from lrspec.tools import plotting
from lrspec.tools.plotting import Curve, choose_log, make_figure

pytest.importorskip("matplotlib")

README_LIKE = """version: 1
optimizer: {type: adamw, lr: 0.001}
schedule: {type: cosine, decay_steps: 100}
groups:
  - {name: backbone, params: ["backbone.*"], lr: 0.00001}
  - {name: norms, params: ["*.norm.*"], lr: 0.00001}
  - {name: stem, params: ["stem.*"], freeze: true}
  - {name: head, params: ["head.*"], freeze: {until_step: 10}}
"""


@pytest.fixture
def figure() -> Iterator[Any]:
    import matplotlib.pyplot as plt

    made: list[Any] = []

    def make(curves: list[Curve], **kw: Any) -> Any:
        made.append(make_figure(curves, **kw))
        return made[-1]

    yield make
    for fig in made:
        plt.close(fig)


def test_axis_choice() -> None:
    assert choose_log([Curve("a", (1.0, 0.5)), Curve("b", (0.2,))]) is False  # 5x
    assert choose_log([Curve("a", (1e-3,)), Curve("b", (1e-5,))]) is True  # 100x
    assert choose_log([Curve("a", (1e-3, 1e-5))]) is True  # within one curve (a decay)
    assert choose_log([Curve("a", (0.0, 0.0), frozen=True), Curve("b", (0.1,))]) is False  # 0 is not a rate
    assert choose_log([Curve("a", (1e-3,)), Curve("b", (1e-5,))], log=False) is False
    assert choose_log([Curve("a", (1.0,))], log=True) is True


def test_readme_like_spec(figure: Any) -> None:
    curves = plotting.spec_curves(lrspec.Spec.model_validate(__import__("yaml").safe_load(README_LIKE)), 50)
    fig = figure(curves)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {
        "backbone", "norms (overlaps backbone)", "stem (frozen: lr 0)", "head (frozen until 10)", "default (overlaps head)"
    }
    # every curve has points, and the ones drawn on the data axis are all positive (visible on log)
    for label, ln in lines.items():
        ys = list(ln.get_ydata())
        assert ys, label
        if "frozen: lr 0" not in label:
            assert min(ys) > 0, label
    # identical curves are distinguishable; the frozen one is on its own line inside the axes
    assert lines["backbone"].get_linestyle() != lines["norms (overlaps backbone)"].get_linestyle()
    assert lines["head (frozen until 10)"].get_linestyle() != lines["default (overlaps head)"].get_linestyle()
    frozen = lines["stem (frozen: lr 0)"]
    assert frozen.get_transform() != ax.transData and 0 < frozen.get_ydata()[0] < 0.2


@pytest.mark.parametrize(("flag", "scale"), [("", "log"), (" --log", "log"), (" --linear", "linear")])
def test_cli_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str, scale: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(README_LIKE)
    seen: list[str] = []
    original = plotting.make_figure

    def spy(curves: Any, **kw: Any) -> Any:
        fig = original(curves, **kw)
        seen.append(fig.axes[0].get_yscale())
        return fig

    monkeypatch.setattr(plotting, "make_figure", spy)
    code, _, err = run_cli(f"plot s.yaml --steps 20 -o lr.png{flag}")
    assert code == 0, err
    assert seen == [scale]


def test_linear_when_rates_are_close(figure: Any) -> None:
    fig = figure([Curve("a", (0.1, 0.05)), Curve("b", (0.2, 0.1)), Curve("z", (0.0, 0.0), frozen=True)])
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    assert len(ax.get_lines()) == 3


def test_log_and_linear_are_exclusive() -> None:
    code, _, err = run_cli("plot s.yaml --log --linear")
    assert code == 2 and "not allowed with argument" in err
