"""Every public way to build a Spec validates fully (pydantic's checks and the semantic ones)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lrspec
from lrspec import Spec, SpecError
from lrspec.spec.patterns import PatternError, compile_pattern

DUPLICATE: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1},
    "groups": [{"name": "a", "params": ["x"]}, {"name": "a", "params": ["y"]}],
}
BOTH_LR: dict[str, Any] = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1},
    "groups": [{"name": "a", "params": ["x"], "lr": 0.5, "lr_mult": 2.0}],
}
CASES = [
    (DUPLICATE, "groups[1].name", "duplicate group name 'a' (first used by groups[0])"),
    (BOTH_LR, "groups[0].lr_mult", "set either lr or lr_mult, not both"),
]


def _via_file(data: dict[str, Any], tmp: Path) -> Spec:
    path = tmp / "spec.json"
    path.write_text(json.dumps(data))
    return lrspec.load(path)


CONSTRUCTORS: dict[str, Callable[[dict[str, Any], Path], Spec]] = {
    "load": _via_file,
    "load_text": lambda d, _: lrspec.load_text(json.dumps(d), fmt="json"),
    "validate": lambda d, _: lrspec.validate(d),
    "model_validate": lambda d, _: Spec.model_validate(d),
    "model_validate_json": lambda d, _: Spec.model_validate_json(json.dumps(d)),
    "init": lambda d, _: Spec(**d),
    "as_spec": lambda d, _: lrspec.as_spec(d),
    "model_construct": lambda d, _: Spec.model_construct(**d),
    "model_copy": lambda d, _: Spec.model_validate({"version": 1, "optimizer": {"type": "adam"}}).model_copy(
        update={"optimizer": d["optimizer"], "groups": d["groups"]}
    ),
}


@pytest.mark.parametrize("how", sorted(CONSTRUCTORS))
@pytest.mark.parametrize(("data", "location", "message"), CASES)
def test_every_constructor_runs_the_semantic_checks(
    how: str, data: dict[str, Any], location: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(SpecError) as info:
        CONSTRUCTORS[how](data, tmp_path)
    assert [(p.location, p.message) for p in info.value.problems] == [(location, message)]


@pytest.mark.parametrize("how", sorted(CONSTRUCTORS))
def test_every_constructor_reports_schema_and_semantic_problems_together(how: str, tmp_path: Path) -> None:
    data = {**DUPLICATE, "optimizer": {"type": "sgd", "lr": -1.0}}
    with pytest.raises(SpecError) as info:
        CONSTRUCTORS[how](data, tmp_path)
    got = {(p.location, p.message) for p in info.value.problems}
    assert got == {
        ("optimizer.lr", "must be > 0.0 (got -1.0)"),
        ("groups[1].name", "duplicate group name 'a' (first used by groups[0])"),
    }


@pytest.mark.parametrize("how", sorted(CONSTRUCTORS))
def test_every_constructor_accepts_a_good_spec(how: str, tmp_path: Path) -> None:
    good = {**BOTH_LR, "groups": [{"name": "a", "params": ["x"], "lr_mult": 2.0}]}
    spec = CONSTRUCTORS[how](good, tmp_path)
    assert isinstance(spec, Spec)
    assert spec.groups[0].lr_mult == 2.0 and spec.groups[0].lr is None
    assert spec == lrspec.validate(good)


def test_load_locates_the_problem_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "version: 1\noptimizer: {type: sgd}\ngroups:\n  - {name: a, params: [x]}\n  - {name: a, params: [y]}\n"
    )
    with pytest.raises(SpecError) as info:
        lrspec.load(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.location) == (str(path), 5, "groups[1].name")


def test_model_validate_json_bad_json_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="invalid JSON"):
        Spec.model_validate_json("{not json")


def test_model_validate_strings_does_not_exist() -> None:
    with pytest.raises(SpecError, match="not supported"):
        Spec.model_validate_strings({"version": "1"})


def test_validate_is_exported() -> None:
    assert "validate" in lrspec.__all__ and lrspec.validate is lrspec.spec.validation.validate


def test_pattern_error_is_an_lrspec_error_with_a_problem() -> None:
    with pytest.raises(PatternError) as info:
        compile_pattern("re:(")
    assert isinstance(info.value, lrspec.LrSpecError) and isinstance(info.value, ValueError)
    assert [p.message for p in info.value.problems] == [str(info.value)]
    assert str(info.value).startswith("invalid regular expression '('")


def test_models_do_not_import_validation() -> None:
    source = (Path(lrspec.__file__).parent / "spec" / "models.py").read_text()
    assert "lrspec.spec.validation" not in source
