"""`--emit python` with hostile input: whatever the spec path, model source, group or parameter
names, the generated module parses, runs nothing on import, and keeps the names as data."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import lrspec
from lrspec.plan import Plan
from lrspec.tools.emit import emit_python

PAYLOAD = '__import__("pathlib").Path("PWNED").touch()'

HOSTILE = [
    f'x""";{PAYLOAD};""".yaml',
    f"x''';{PAYLOAD};'''.yaml",
    "C:\\Users\\new\\tab\\x.yaml",
    "ends with a backslash\\",
    'ends with a quote"',
    f"line one\n{PAYLOAD}\n#",
    "carriage\rreturn and \x00 nul and \x1b escape",
    "non-ASCII: é ß 漢字 🙂 \u2028 separator",
    "lone surrogate \ud800 here",
    f"\\N{{{PAYLOAD}}} \\x41 \\u0041 {{brace}}",
]

PARAMS = {"enc.weight": (3, 2), "enc.bias": (3,), "head.weight": (1, 3)}
SPEC = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3},
    "groups": [{"name": "enc", "params": ["enc.*"], "lr_mult": 0.1}],
    "schedule": {"type": "warmup", "steps": 3, "then": {"type": "cosine", "decay_steps": 10}},
}


def _plan() -> Plan:
    return lrspec.resolve(lrspec.as_spec(SPEC), PARAMS)


def _with_group_names(plan: Plan, names: list[str]) -> Plan:
    groups = tuple(dataclasses.replace(g, name=n) for g, n in zip(plan.groups, names))
    return dataclasses.replace(plan, groups=groups)


def _import(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str) -> types.ModuleType:
    """Parse, then import ``source`` from a file in ``tmp_path`` (the working directory)."""
    ast.parse(source)
    assert source.isascii(), "generated source must be ASCII (safe in any file encoding)"
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"{stem}.py"
    path.write_text(source, encoding="ascii")
    spec = importlib.util.spec_from_file_location(stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[stem]
    assert not (tmp_path / "PWNED").exists(), "importing the generated module ran injected code"
    return module


def _emitting() -> list[str]:
    from lrspec.tools.emit import emitting_targets

    return emitting_targets()


def _skip_if_none(names: list[str]) -> list[Any]:
    return list(names) or [pytest.param("none", marks=pytest.mark.skip(reason="no emitting target installed"))]


@pytest.fixture(params=_skip_if_none(_emitting()))
def target(request: pytest.FixtureRequest) -> str:
    """Every installed target that emits code."""
    return str(request.param)


@pytest.fixture(params=_skip_if_none([t for t in ("torch", "tf") if t in _emitting()]))
def groups_target(request: pytest.FixtureRequest) -> str:
    """The targets whose generated module lists the plan as ``GROUPS``."""
    return str(request.param)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_spec_path_and_source_stay_in_the_docstring(
    text: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = emit_python(_plan(), target, spec_path=text, source="pkg.mod:" + text)
    module = _import(source, tmp_path, monkeypatch, f"gen_hostile_{target}")
    doc = module.__doc__
    assert doc is not None
    # the docstring's value is the user's text again, unchanged
    assert f"from {text}, compiled for target {target!r}" in doc
    assert f"lrspec plan for pkg.mod:{text} from" in doc
    assert callable(module.build)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_group_and_parameter_names_are_data(
    text: str, groups_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = groups_target
    param = "enc." + text.replace("\n", " ")  # parameter names cannot hold newlines (resolve refuses them)
    params = {**PARAMS, param: (2,)}
    plan = lrspec.resolve(lrspec.as_spec(SPEC), params)
    names = [text, text + "'\"2"]
    plan = _with_group_names(plan, names)
    source = emit_python(plan, target, spec_path="spec.yaml", source="m")
    module = _import(source, tmp_path, monkeypatch, f"gen_hostile_names_{target}")
    assert [g["name"] for g in module.GROUPS] == names
    assert param in {p for g in module.GROUPS for p in g["params"]}


def test_tf_v1_is_refused_naming_the_emitting_targets() -> None:
    if "tf-v1" not in {i.name for i in lrspec.available_targets() if i.installed}:
        pytest.skip("needs the tf-v1 target")
    with pytest.raises(lrspec.TargetError, match=r"--emit python supports the targets .*not 'tf-v1'"):
        emit_python(_plan(), "tf-v1")


def test_hostile_spec_file_name_through_the_cli(target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io

    import yaml

    from lrspec.tools.cli import main

    spec_file = tmp_path / f'x""";{PAYLOAD};""".yaml'
    spec_file.write_text(yaml.safe_dump(SPEC))
    params_file = tmp_path / "params'\"\\.txt"
    params_file.write_text("".join(f"{n} {','.join(map(str, s))}\n" for n, s in PARAMS.items()))
    out = tmp_path / "gen.py"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        argv = ["compile", str(spec_file), "--target", target, "--model", str(params_file), "--emit", "python"]
        code = main([*argv, "-o", str(out)])
    assert code == 0, err.getvalue()
    module = _import(out.read_text(), tmp_path, monkeypatch, f"gen_cli_{target}")
    assert module.__doc__ is not None and str(spec_file) in module.__doc__ and str(params_file) in module.__doc__
