"""Hostile spec and parameter-list files: only regular files, a size cap checked before
reading, bounded nesting, YAML 1.2 scalars, located constructor errors, spec-true merge keys.
Every case is one LrSpecError naming the file (and the line where there is one), fast."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import lrspec
from lrspec.errors import ParamFileError
from lrspec.spec.loader import MAX_SPEC_BYTES, load_text, parse_text
from lrspec.tools.paramfile import MAX_PARAM_FILE_BYTES, read_params

GOOD = "version: 1\noptimizer: {type: sgd, lr: 0.1}\n"


def _special_files(tmp_path: Path, suffix: str) -> list[Path]:
    out = []
    for name, target in (("zero", "/dev/zero"), ("null", "/dev/null"), ("dir", str(tmp_path))):
        if os.path.exists(target):
            link = tmp_path / f"{name}{suffix}"
            link.symlink_to(target)
            out.append(link)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / f"fifo{suffix}"
        os.mkfifo(fifo)
        out.append(fifo)
    (tmp_path / f"realdir{suffix}").mkdir()
    out.append(tmp_path / f"realdir{suffix}")
    return out


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_spec_must_be_a_regular_file(tmp_path: Path, suffix: str) -> None:
    for path in _special_files(tmp_path, suffix):
        t0 = time.perf_counter()
        with pytest.raises(lrspec.SpecError, match=r"is a (device|directory|FIFO)") as info:
            lrspec.load(path)
        assert time.perf_counter() - t0 < 1.0
        assert info.value.problems[0].file == str(path)


@pytest.mark.parametrize("suffix", [".txt", ".json"])
def test_param_list_must_be_a_regular_file(tmp_path: Path, suffix: str) -> None:
    for path in _special_files(tmp_path, suffix):
        with pytest.raises(ParamFileError, match=r"is a (device|directory|FIFO)") as info:
            read_params(path)
        assert info.value.problems[0].file == str(path)


def test_big_spec_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(GOOD + "# padding\n" * (8 * 2**20 // 10))
    t0 = time.perf_counter()
    with pytest.raises(lrspec.SpecError, match="too large"):
        lrspec.load(path)
    assert time.perf_counter() - t0 < 0.5  # 40 s and 560 MB before
    ok = tmp_path / "ok.yaml"
    ok.write_text(GOOD + "#" * (MAX_SPEC_BYTES - len(GOOD) - 1) + "\n")
    assert lrspec.load(ok).optimizer.lr == 0.1


def test_big_param_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    with open(path, "wb") as f:
        f.truncate(MAX_PARAM_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ParamFileError, match="too large"):
        read_params(path)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deep_nesting_is_a_clear_error(fmt: str, depth: int) -> None:
    text = '{"version": 1, "x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(lrspec.SpecError, match="nested too deeply"):
        parse_text(text, fmt=fmt, file="deep")


def test_deep_json_param_list(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("[" * 1000 + "]" * 1000)
    with pytest.raises(ParamFileError, match="nested deeper"):
        read_params(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("010", "leading zero"),  # YAML 1.1: octal 8
        ("0100", "leading zero"),  # YAML 1.1: 64
        ("-07", "leading zero"),
        ("!!float abc", "cannot read 'abc' as float"),
        ("!!timestamp 2001-13-45", "as timestamp"),
        ("!!int 12x", "as int"),
        ("1" * 4301, "more than 400 digits"),
    ],
)
def test_scalars_that_cannot_be_read_are_located(value: str, message: str) -> None:
    with pytest.raises(lrspec.SpecError, match=message) as info:
        parse_text(f"version: 1\nschedule:\n  milestones: {value}\n", file="s.yaml")
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == ("s.yaml", 3)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1:30", "1:30"),  # YAML 1.1 sexagesimal 90: a string in YAML 1.2
        ("2024-02-30", "2024-02-30"),  # no implicit timestamps
        ("yes", "yes"),
        ("on", "on"),
        ("Off", "Off"),
        ("y", "y"),
        ("true", True),
        ("FALSE", False),
        ("0x1F", 31),
        ("0o17", 15),
        ("1_000", 1000),
        ("0", 0),
        ("-0", 0),
        ("1e-5", 1e-5),
        (".5", 0.5),
        ("-.5e3", -500.0),
        ("~", None),
    ],
)
def test_yaml_12_core_scalars(text: str, value: object) -> None:
    data, _ = parse_text(f"a: {text}\n")
    assert data["a"] == value and type(data["a"]) is type(value)


def test_sexagesimal_and_yaml11_bools_are_type_errors_at_their_line() -> None:
    text = GOOD + "schedule: {type: step, step_size: 1:30}\ngroups:\n  - {name: g, params: ['*'], nesterov: yes}\n"
    with pytest.raises(lrspec.SpecError) as info:
        load_text(text, file="s.yaml")
    got = {(p.location, p.line) for p in info.value.problems}
    assert ("schedule.step_size", 3) in got and ("groups[0].nesterov", 5) in got


def test_on_key_is_an_unknown_key_at_its_line() -> None:
    with pytest.raises(lrspec.SpecError, match="unknown key 'on'") as info:
        load_text(GOOD + "on: 1\n", file="s.yaml")
    assert info.value.problems[0].line == 3


@pytest.mark.parametrize("version", ["yes", "true", "1.0", "'1'", "01"])
def test_version_must_be_the_integer_1(version: str) -> None:
    with pytest.raises(lrspec.SpecError) as info:
        load_text(f"version: {version}\noptimizer: {{type: sgd}}\n", file="s.yaml")
    assert info.value.problems[0].line == 1


def test_merge_keys_follow_the_spec() -> None:
    data, _ = parse_text("a: &x {lr: 0.1, m: 1}\nb: &y {lr: 0.2, n: 2}\nc:\n  <<: [*x, *y]\n  m: 3\n")
    assert data["c"] == {"lr": 0.1, "m": 3, "n": 2}  # the earlier map wins; own keys win over merged
    data, _ = parse_text("c:\n  <<: [{lr: 0.1}, {lr: 0.2}]\n")
    assert data["c"] == {"lr": 0.1}
    with pytest.raises(lrspec.SpecError, match="merge key"):
        parse_text("c:\n  <<: [1, 2]\n")


def test_json_param_list_duplicates_and_bad_names(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"a": [1], "a": [2], "b": [2.7], "c": [99999999999999999999], "d\\ne": null}')
    with pytest.raises(ParamFileError) as info:
        read_params(path)
    text = str(info.value)
    assert "'a' is listed twice" in text and "[2.7]" in text and "99999999999999999999" in text and "newlines" in text
    assert all(p.file == str(path) for p in info.value.problems)
