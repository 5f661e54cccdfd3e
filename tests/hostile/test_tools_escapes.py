"""Class: silent terminal control through names. A name with escape sequences or other
control characters (a hostile .safetensors, a parameter list, a path) is printed escaped in
every table, report and error line, and JSON output stays strict JSON without raw controls."""

from __future__ import annotations

import json
import struct
import unicodedata
from pathlib import Path

import pytest
from _tools_helpers import run_cli

from lrspec.tools.render import printable, render_table

HOSTILE = ["\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x9b31m", "\u202eevil", "a\rb", "\x00", "\x7f", "zero\u200bwidth"]


def _raw_controls(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")]


@pytest.mark.parametrize("bad", HOSTILE)
def test_printable_escapes_every_control(bad: str) -> None:
    shown = printable(f"x{bad}y")
    assert not _raw_controls(shown) and shown.startswith("x") and shown.endswith("y")
    assert not _raw_controls(render_table(["h"], [[bad]]))


def test_ordinary_text_is_unchanged() -> None:
    for text in ["conv1.weight", "Ünïcödé.名前", "a b", "▁▂▃█"]:
        assert printable(text) == text


def _safetensors(path: Path, names: list[str]) -> None:
    header = {n: {"dtype": "F32", "shape": [2], "data_offsets": [8 * k, 8 * k + 8]} for k, n in enumerate(names)}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * (8 * len(names)))


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    names = [f"layer{k}.{bad}weight" for k, bad in enumerate(HOSTILE)]
    _safetensors(tmp_path / "m.safetensors", names)
    (tmp_path / "params.json").write_text(json.dumps({n: [2] for n in names}))
    (tmp_path / "spec.yaml").write_text("version: 1\noptimizer: {type: sgd, lr: 0.1}\nunmatched: train\n")
    (tmp_path / "nomatch.yaml").write_text(
        "version: 1\noptimizer: {type: sgd, lr: 0.1}\ngroups:\n  - {name: g, params: ['nothing.*']}\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    "command",
    [
        "explain spec.yaml --params params.json",
        "explain nomatch.yaml --params params.json",
        "plot spec.yaml --params params.json --steps 3",
        "compile spec.yaml --target torch --model params.json",
        "compile nomatch.yaml --target torch --model params.json",
    ],
)
def test_hostile_names_are_printed_escaped(hostile: Path, command: str) -> None:
    code, out, err = run_cli(command)
    assert code in (0, 1)
    assert not _raw_controls(out) and not _raw_controls(err), (out + err)[:500]
    if "layer0." in out + err:  # the names are shown (plot shows groups only)
        assert "\\x1b" in out + err


@pytest.mark.torch
def test_hostile_safetensors_names(hostile: Path) -> None:
    pytest.importorskip("torch")
    for command in ("compile spec.yaml --target torch --model m.safetensors", "compile nomatch.yaml --target torch --model m.safetensors"):
        _code, out, err = run_cli(command)
        assert not _raw_controls(out + err) and "\\x1b" in out + err, command


def test_json_documents_stay_strict_and_escaped(hostile: Path) -> None:
    code, out, _ = run_cli("explain spec.yaml --params params.json --format json")
    assert code == 0 and not _raw_controls(out)
    doc = json.loads(out)
    assert sorted(p["name"] for p in doc["params"]) == sorted(json.loads(Path("params.json").read_text()))


def test_error_lines_escape_names() -> None:
    from lrspec.errors import SourceError
    from lrspec.tools.cli.errors import error_lines

    lines = error_lines(SourceError("m\x1b[31m.pt", "name \x9b2J is bad"))
    assert lines == ["Error: m\\x1b[31m.pt: name \\x9b2J is bad"]
