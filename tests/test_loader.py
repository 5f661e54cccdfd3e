"""The loader: YAML/JSON parsing details, positions, safety, parameter-list files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lrspec
from lrspec import SpecError
from lrspec.spec.loader import MAX_NODES, load_text, parse_text


def test_yaml_exponent_without_dot_is_a_float() -> None:
    data, _ = parse_text("a: 1e-5\nb: 1.0e-3\nc: 5\nd: -2E+2\ne: .5\nf: 1_000\n")
    assert data == {"a": 1e-5, "b": 1e-3, "c": 5, "d": -200.0, "e": 0.5, "f": 1000}
    assert isinstance(data["a"], float) and isinstance(data["d"], float) and isinstance(data["c"], int)


def test_yaml_spec_with_1e_minus_5_validates() -> None:
    spec = load_text("version: 1\noptimizer: {type: adam, lr: 1e-5}\n")
    assert spec.optimizer.lr == 1e-5


def test_positions_are_recorded_for_keys_and_items() -> None:
    text = "version: 1\noptimizer:\n  type: sgd\ngroups:\n  - name: a\n    params: ['x', 'y']\n"
    _, pos = parse_text(text)
    assert pos[("version",)] == (1, 1)
    assert pos[("optimizer", "type")] == (3, 3)
    assert pos[("groups", 0)] == (5, 5)
    assert pos[("groups", 0, "name")] == (5, 5)
    assert pos[("groups", 0, "params", 1)] == (6, 19)


def test_json_positions_and_error_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{\n  "version": 1,\n  "optimizer": {"type": "sgd", "lr": -1}\n}\n')
    with pytest.raises(SpecError) as info:
        lrspec.load(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 3, 32)  # the "lr" key
    assert str(info.value) == f"invalid spec: {path}:3:32: optimizer.lr: must be > 0.0 (got -1)"


def test_yaml_error_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text("version: 1\noptimizer:\n  type: sgd\n  lr: 0\n")
    with pytest.raises(SpecError, match=r"s\.yml:4:3: optimizer\.lr: must be > 0"):
        lrspec.load(path)


def test_json_and_yaml_give_the_same_spec(tmp_path: Path) -> None:
    data = {
        "version": 1,
        "optimizer": {"type": "adamw", "lr": 3e-4, "betas": [0.9, 0.95]},
        "schedule": {"type": "warmup", "steps": 100, "then": {"type": "cosine", "decay_steps": 1000}},
        "groups": [{"name": "nd", "params": ["*.bias"], "weight_decay": 0.0}],
    }
    (tmp_path / "a.json").write_text(json.dumps(data))
    (tmp_path / "a.yaml").write_text(
        "version: 1\noptimizer: {type: adamw, lr: 3e-4, betas: [0.9, 0.95]}\n"
        "schedule: {type: warmup, steps: 100, then: {type: cosine, decay_steps: 1000}}\n"
        "groups:\n  - {name: nd, params: ['*.bias'], weight_decay: 0.0}\n"
    )
    a, b = lrspec.load(tmp_path / "a.json"), lrspec.load(tmp_path / "a.yaml")
    assert a == b == lrspec.Spec.model_validate(data)
    assert a.optimizer.betas == (0.9, 0.95)


def test_yaml_aliases_are_allowed() -> None:
    spec = load_text(
        "version: 1\noptimizer: {type: sgd}\n"
        "groups:\n  - {name: a, params: ['a.*'], schedule: &s {type: cosine, decay_steps: 10}}\n"
        "  - {name: b, params: ['b.*'], schedule: *s}\n"
    )
    assert spec.groups[0].schedule == spec.groups[1].schedule


def test_alias_bomb_is_rejected_before_expansion() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for k in range(1, 9):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]")
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} nodes"):
        load_text("\n".join(lines) + "\n")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(SpecError, match=r"invalid YAML: nested too deeply"):
        load_text("[" * 3000 + "]" * 3000)


def test_load_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: file not found"):
        lrspec.load(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match=r"unsupported spec file type '\.toml'"):
        lrspec.load(tmp_path / "spec.toml")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(SpecError, match="is a directory"):
        lrspec.load(tmp_path / "dir.yaml")


def test_load_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"version: 1\n# caf\xe9\n")
    with pytest.raises(SpecError, match="cannot read file"):
        lrspec.load(path)


def test_parse_text_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="fmt must be"):
        parse_text("a: 1", fmt="toml")


# ------------------------------------------------------------------ Spec.model_validate(dict)


def test_model_validate_raises_spec_error_with_locations() -> None:
    bad = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0},
        "groups": [{"name": "a", "params": ["x"], "lr": 1.0, "lr_mult": 2.0, "schedul": {}}],
    }
    with pytest.raises(SpecError) as info:
        lrspec.Spec.model_validate(bad)
    locs = {(p.location, p.file, p.line) for p in info.value.problems}
    assert locs == {("optimizer.lr", None, None), ("groups[0].schedul", None, None), ("groups[0].lr_mult", None, None)}
    assert "did you mean 'schedule'?" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_model_validate_accepts_a_spec_and_roundtrips() -> None:
    spec = lrspec.Spec.model_validate({"version": 1, "optimizer": {"type": "rmsprop"}})
    assert lrspec.Spec.model_validate(spec) == spec
    again = lrspec.Spec.model_validate(spec.model_dump(mode="json"))
    assert again == spec
