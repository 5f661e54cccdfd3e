"""The JSON Schema of the spec format, generated from the pydantic models in :mod:`lrspec.spec.models`.

``schemas/lrspec-v1.schema.json`` is the output of :func:`schema_text` (regenerate it with
``make schema``, i.e. ``lrspec schema > schemas/lrspec-v1.schema.json``); a test asserts the
checked-in file is up to date. Editors pick it up through a first line
``# yaml-language-server: $schema=../schemas/lrspec-v1.schema.json``.

The schema checks structure, types and ranges. A few rules live only in the semantic checks
(:mod:`lrspec.spec.semantics`, run by every constructor of Spec): ``lr`` with ``lr_mult``, ``weight_decay`` with ``decay_mult``,
duplicate group names, hyperparameters of another family, regexes that do not compile,
unsorted boundaries/milestones, list lengths that must agree, nesterov without momentum.
"""

from __future__ import annotations

import json
from typing import Any

from lrspec.spec.models import Spec

__all__ = ["SCHEMA_DRAFT", "generate_schema", "schema_text"]

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def generate_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a version-1 spec, as a dict."""
    schema = Spec.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DRAFT, **schema}


def schema_text() -> str:
    """The schema as the exact text checked in (2-space indent, sorted keys, final newline)."""
    return json.dumps(generate_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
