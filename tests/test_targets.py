"""Target registry: built-in table first, then the lrspec.targets entry points; type-checked."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

import pytest

import lrspec
from lrspec import targets
from lrspec.errors import TargetError
from lrspec.plan import Plan


class RecordingTarget(targets.Target):
    """A third-party style target that records what it was given."""

    name = "recording"
    extra = "lrspec-recording"

    def parameters(self, model: Any) -> Mapping[str, tuple[int, ...] | None]:
        return {name: None for name in model}

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        return {"plan": plan, "model": model, "options": options}


RECORDING = RecordingTarget()
NOT_A_TARGET = object()

SPEC = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1},
    "groups": [{"name": "head", "params": ["head.*"], "lr": 0.01}],
}


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, mapping: dict[str, str]) -> None:
    eps = {
        name: metadata.EntryPoint(name=name, value=value, group=targets.ENTRY_POINT_GROUP)
        for name, value in mapping.items()
    }
    monkeypatch.setattr(targets, "_entry_points", lambda: eps)


def test_entry_point_target_is_found_and_used_by_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, {"recording": f"{__name__}:RECORDING"})
    out = lrspec.compile(SPEC, ["body.w", "head.w"], target="recording", flag=True)
    assert out["options"] == {"flag": True}
    assert out["plan"].lr("head.w", 0) == 0.01
    assert out["plan"].lr("body.w", 0) == 0.1


def test_entry_point_class_is_instantiated(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, {"recording": f"{__name__}:RecordingTarget"})
    assert isinstance(targets.get_target("recording"), RecordingTarget)


def test_builtin_table_wins_over_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, {"torch": f"{__name__}:RECORDING"})
    monkeypatch.setitem(targets.BUILTIN_TARGETS, "torch", (f"{__name__}:RecordingTarget", "x"))
    assert isinstance(targets.get_target("torch"), RecordingTarget)


def test_loaded_object_must_be_a_target(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, {"bogus": f"{__name__}:NOT_A_TARGET"})
    with pytest.raises(TargetError, match=r"not a lrspec\.targets\.Target"):
        targets.get_target("bogus")


def test_unknown_target_suggests_a_name() -> None:
    with pytest.raises(TargetError, match=r"unknown target 'torhc' \(did you mean 'torch'\?\)"):
        targets.get_target("torhc")


def test_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(targets.BUILTIN_TARGETS, "torch", ("lrspec_no_such_module.target:TARGET", "lrspec[torch]"))
    with pytest.raises(TargetError, match=r"pip install 'lrspec\[torch\]'"):
        lrspec.compile(SPEC, ["head.w"], target="torch")


def test_available_targets_lists_builtins_without_importing_frameworks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lrspec; infos = lrspec.available_targets(); "
        "print(sorted(i.name for i in infos)); "
        "print(any(m in sys.modules for m in ('torch', 'tensorflow', 'keras', 'jax', 'optax', 'flax')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['keras', 'optax', 'tf', 'tf-v1', 'torch']"
    assert out[1] == "False"
