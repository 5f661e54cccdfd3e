"""The door is the only door: a target written against the public protocol alone, living in
tests/ and registered through (patched) entry points, gets compile, explain, verify,
``--model FILE``/``module:callable`` and ``--emit python`` (its clear refusal) from lrspec,
through the library and the CLI, end to end."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from lrspec_toy_target import ToyModel, toy_model

import lrspec
from lrspec import targets
from lrspec.tools.cli import main

SPEC = """\
version: 1
optimizer: {type: sgd, lr: 0.1, weight_decay: 0.01}
schedule: {type: exponential, decay_rate: 0.5, decay_steps: 1}
groups:
  - {name: body, params: ["body.*"], lr_mult: 0.1, freeze: {until_step: 2}}
"""


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = metadata.EntryPoint(name="toy", value="lrspec_toy_target:TARGET", group=targets.ENTRY_POINT_GROUP)
    monkeypatch.setattr(targets, "_entry_points", lambda: {"toy": ep})


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def run(cmdline: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(shlex.split(cmdline))
    return code, out.getvalue(), err.getvalue()


def test_library_compile_follows_the_plan() -> None:
    model = toy_model()
    opt = lrspec.compile(lrspec.load_text(SPEC), model, target="toy")
    g = {"body.w": np.full((3, 2), 0.5, np.float32), "body.b": np.ones(2, np.float32),
         "head.w": np.full((2, 1), 2.0, np.float32)}
    for _ in range(3):
        opt.step(g)
    # head: lr_t = 0.1 * 0.5**t, p <- p - lr_t (g + 0.01 p), three updates from 1.0
    head = 1.0
    for t in range(3):
        head -= 0.1 * 0.5**t * (2.0 + 0.01 * head)
    # body: frozen for t = 0, 1; at t = 2, lr = 0.01 * 0.5**2
    body = 1.0 - 0.01 * 0.25 * (0.5 + 0.01 * 1.0)
    np.testing.assert_allclose(model.arrays["head/w"], head, rtol=1e-6)
    np.testing.assert_allclose(model.arrays["body/w"], body, rtol=1e-6)


def test_targets_lists_it() -> None:
    code, out, _ = run("targets")
    assert code == 0
    assert any(line.split()[:2] == ["toy", "installed"] for line in out.splitlines())


def test_compile_with_a_module_callable(spec_file: Path) -> None:
    code, out, err = run(f"compile {spec_file} --target toy --model lrspec_toy_target:toy_model")
    assert code == 0, err
    assert "body.w" in out and "head.w" in out and "3 parameters" in out
    assert "built: " in out and "ToySGD" in out


def test_compile_reads_its_model_files(spec_file: Path, tmp_path: Path) -> None:
    model_file = tmp_path / "net.toy"
    model_file.write_text(json.dumps({"body/w": [3, 2], "head/w": [2, 1]}))
    code, out, err = run(f"compile {spec_file} --target toy --model {model_file}")
    assert code == 0, err
    assert "body.w" in out and "3x2" in out and "head.w" in out


def test_compile_json_explains_the_plan_for_its_model(spec_file: Path) -> None:
    code, out, err = run(f"compile {spec_file} --target toy --model lrspec_toy_target:toy_model --format json")
    assert code == 0, err
    params = {p["name"]: p for p in json.loads(out)["params"]}
    assert set(params) == {"body.w", "body.b", "head.w"}
    assert params["body.w"]["frozen_until"] == 2 and params["body.w"]["lr_at_0"] == 0.0
    assert params["head.w"]["lr_at_0"] == pytest.approx(0.1)
    assert params["body.w"]["shape"] == [3, 2]


def test_explain_with_a_parameter_list(spec_file: Path, tmp_path: Path) -> None:
    params = tmp_path / "p.txt"
    params.write_text("body.w 3,2\nhead.w 2,1\n")
    code, out, err = run(f"explain {spec_file} --params {params}")
    assert code == 0, err
    assert "body.w" in out and "until 2" in out


def test_verify_drives_it(spec_file: Path, tmp_path: Path) -> None:
    params = tmp_path / "p.txt"
    params.write_text("body.w 3,2\nbody.b 2\nhead.w 2,1\n")
    code, out, err = run(f"verify {spec_file} --params {params} --targets toy --steps 10")
    assert code == 0, out + err
    assert out.rstrip().splitlines()[-1] == "result: all 1 target(s) agree with the reference"


def test_emit_python_is_clearly_refused(spec_file: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "gen.py"
    code, _, err = run(
        f"compile {spec_file} --target toy --model lrspec_toy_target:toy_model --emit python -o {out_file}"
    )
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("Error: ") and "does not emit code" in line
    assert not out_file.exists()


def test_a_toy_model_for_another_target_names_the_right_one(spec_file: Path) -> None:
    code, _, err = run(f"compile {spec_file} --target torch --model lrspec_toy_target:toy_model")
    assert code == 1
    (line,) = err.strip().splitlines()
    assert "--target toy" in line


def test_the_model_is_accepted_without_being_a_known_type() -> None:
    assert targets.get_target("toy").accepts(ToyModel({}))
    assert targets.target_for_model(toy_model()) is targets.get_target("toy") or isinstance(
        targets.target_for_model(toy_model()), type(targets.get_target("toy"))
    )
