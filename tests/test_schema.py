"""The checked-in JSON Schema equals the one generated from the models, and it is usable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lrspec.spec.schema import generate_schema, schema_text

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "lrspec-v1.schema.json"


def checked_in() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def test_checked_in_schema_is_up_to_date() -> None:
    assert checked_in() == generate_schema(), (
        f"{SCHEMA_FILE} is out of date with lrspec/spec.py; regenerate it with `make schema`"
    )


def test_schema_text_is_the_file_format() -> None:
    assert json.loads(schema_text()) == generate_schema()
    assert schema_text().endswith("}\n")


def test_schema_is_a_valid_draft_2020_12_schema_with_descriptions() -> None:
    schema = checked_in()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    group = schema["$defs"]["Group"]["properties"]
    assert "description" in group["lr_mult"] and "lr" in group["lr_mult"]["description"]
    assert set(schema["required"]) == {"version", "optimizer"}


GOOD = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 3e-4, "betas": [0.9, 0.95]},
    "schedule": {"type": "warmup", "steps": 10, "then": {"type": "cosine", "decay_steps": 100}},
    "groups": [
        {"name": "nd", "params": ["*.bias"], "weight_decay": 0.0},
        {"name": "stem", "params": ["re:stem\\..*"], "freeze": {"until_step": 5}},
        {"name": "head", "params": ["head.*"], "freeze": False, "lr": 1e-3},
    ],
    "layer_decay": {"rate": 0.8, "layers": ["stem.*", "blocks.{i}.*"]},
    "unmatched": "train",
}


def test_schema_accepts_a_good_spec() -> None:
    jsonschema.validate(GOOD, checked_in(), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "patch",
    [
        {"version": 2},
        {"optimizer": {"type": "adamm"}},
        {"optimizer": {"type": "sgd", "betas": [0.9, 0.9]}},
        {"optimizer": {"type": "sgd", "lr": 0}},
        {"schedule": {"type": "cosine"}},
        {"groups": [{"name": "x", "params": []}]},
        {"groups": [{"name": "x", "params": ["a"], "freeze": "yes"}]},
        {"unmatched": "ignore"},
        {"extra": 1},
    ],
)
def test_schema_rejects_structural_errors(patch: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**GOOD, **patch}, checked_in(), cls=jsonschema.Draft202012Validator)
