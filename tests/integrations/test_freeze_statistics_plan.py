"""``freeze_statistics`` in the spec, the plan, the schema and explain (no framework needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import lrspec
from lrspec.errors import ResolveError, SpecError
from lrspec.tools.explain import plan_json, plan_table

PARAMS = {"base.bn.gamma": (2,), "base.bn.beta": (2,), "base.conv.kernel": (3, 2), "head.kernel": (2, 1)}


def _plan(*groups: dict[str, Any]) -> Any:
    return lrspec.resolve(
        lrspec.validate({"version": 1, "optimizer": {"type": "sgd", "lr": 0.1}, "groups": list(groups)}), PARAMS
    )


def test_the_key_reaches_the_plan_only_where_set() -> None:
    plan = _plan({"name": "base", "params": ["base.*"], "freeze": True, "freeze_statistics": True})
    base, rest = plan.group_of("base.bn.gamma"), plan.group_of("head.kernel")
    assert base.frozen and base.freeze_statistics and not rest.freeze_statistics
    assert base.to_dict()["freeze_statistics"] is True and "freeze_statistics" not in rest.to_dict()
    default = _plan({"name": "base", "params": ["base.*"], "freeze": True})
    assert not default.group_of("base.bn.gamma").freeze_statistics  # the default: a freeze stops updates only
    assert "+stats" in plan_table(plan) and "+stats" not in plan_table(default)
    groups = {g["name"]: g for g in plan_json(plan)["groups"]}
    assert groups["base"]["freeze_statistics"] is True and "freeze_statistics" not in groups["default"]


def test_a_later_group_decides_and_it_needs_a_permanent_freeze() -> None:
    plan = _plan(
        {"name": "base", "params": ["base.*"], "freeze": True, "freeze_statistics": True},
        {"name": "conv", "params": ["base.conv.*"], "freeze_statistics": False},
    )
    assert plan.group_of("base.bn.gamma").freeze_statistics and not plan.group_of("base.conv.kernel").freeze_statistics
    with pytest.raises(ResolveError, match=r"group 'stats' sets freeze_statistics: true.*effective freeze: none"):
        _plan({"name": "stats", "params": ["base.*"], "freeze_statistics": True})
    with pytest.raises(ResolveError, match="effective freeze: false"):
        _plan(
            {"name": "stats", "params": ["base.*"], "freeze": True, "freeze_statistics": True},
            {"name": "thaw", "params": ["base.bn.*"], "freeze": False},
        )
    with pytest.raises(SpecError):
        _plan({"name": "stats", "params": ["base.*"], "freeze": True, "freeze_statistics": "yes"})


def test_the_schema_has_the_key() -> None:
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "lrspec-v1.schema.json").read_text())
    assert "freeze_statistics" in schema["$defs"]["Group"]["properties"]
