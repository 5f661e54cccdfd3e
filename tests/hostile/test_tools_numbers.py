"""Class: numbers in output. No document the CLI prints holds a bare ``Infinity`` or ``NaN``:
non-finite floats are the strings "inf", "-inf", "nan"; everything else is unchanged."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from _tools_helpers import GOOD_PARAMS, GOOD_SPEC, run_cli

from lrspec.tools.cli.common import json_text


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"bare {name} in the output")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_are_strings() -> None:
    data = {"a": math.inf, "b": [-math.inf, math.nan, 1.5], "c": {"d": (math.nan,)}, "e": (x for x in [math.inf])}
    assert _strict(json_text(data)) == {"a": "inf", "b": ["-inf", "nan", 1.5], "c": {"d": ["nan"]}, "e": ["inf"]}


def test_streamed_text_is_what_json_dumps_writes() -> None:
    data = {"format": "x", "rows": [{"a": 1, "b": [1, 2], "c": {}}, {"a": 0.1, "b": [], "c": {"k": None}}], "s": "é"}
    assert json_text(data) == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    lazy = {**data, "rows": iter(data["rows"])}
    assert json_text(lazy) == json_text(data)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_every_json_command_is_strict(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, value: float) -> None:
    """Whatever a plan's numbers are (the library rejects non-finite ones; a bug or a plugin might
    not), explain, compile and plot print strict JSON."""
    from lrspec import plan as plan_module
    from lrspec.tools import plotting

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(GOOD_SPEC)
    (tmp_path / "params.txt").write_text(GOOD_PARAMS)
    monkeypatch.setattr(plan_module.PlanGroup, "lr_at", lambda self, t: value)
    for command in (
        "explain spec.yaml --params params.txt --format json",
        "compile spec.yaml --target torch --model params.txt --format json",
        "plot spec.yaml --params params.txt --steps 3 --format json",
    ):
        code, out, err = run_cli(command)
        assert code == 0, err
        _strict(out)
    original = plotting.spec_curves
    monkeypatch.setattr(plotting, "spec_curves", lambda spec, steps, *rest: [plotting.Curve("c", (value, 1.0)), *original(spec, steps)])
    code, out, _ = run_cli("plot spec.yaml --steps 2 --format json")
    assert _strict(out)["curves"][0]["lr"][0] == ("nan" if math.isnan(value) else "inf" if value > 0 else "-inf")
