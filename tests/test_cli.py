"""The `lrspec` command: happy paths, in-process through lrspec.tools.cli.main, plus real subprocesses."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lrspec.tools.cli import main

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def run(cmdline: str) -> tuple[int, str, str]:
    """Run `lrspec <cmdline>` in-process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(shlex.split(cmdline))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(
        "version: 1\n"
        "optimizer: {type: adam, lr: 0.01}\n"
        "schedule: {type: exponential, decay_rate: 0.5, decay_steps: 10, staircase: true}\n"
        "groups:\n"
        "  - {name: body, params: ['body.*'], lr_mult: 0.1}\n"
        "  - {name: head, params: ['head.*'], freeze: {until_step: 5}}\n"
    )
    return p


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    p = tmp_path / "params.txt"
    p.write_text("body.weight 4,3\nbody.bias 4\nhead.weight 2,4\n")
    return p


def test_validate_ok(spec_file: Path) -> None:
    code, out, err = run(f"validate {spec_file} {EX / 'finetune_cnn.yaml'}")
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{spec_file}: ok (adam, 2 groups)", f"{EX / 'finetune_cnn.yaml'}: ok (adam, 2 groups)"]


def test_schema_matches_checked_in_file() -> None:
    code, out, _ = run("schema")
    assert code == 0
    checked_in = (ROOT / "schemas" / "lrspec-v1.schema.json").read_text()
    assert json.loads(out) == json.loads(checked_in), "schema drift: regenerate with `make schema`"
    assert json.loads(out)["properties"]["version"]


def test_explain_table(spec_file: Path, params_file: Path) -> None:
    code, out, err = run(f"explain {spec_file} --params {params_file}")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{spec_file} with {params_file} (3 parameters)"
    # body: 0.01 * 0.1 = 0.001; head: frozen until 5, so lr@0 = 0
    assert "body.weight  4x3    body     0.001   0  no       body" in lines
    assert "head.weight  2x4    head         0   0  until 5  head" in lines
    assert "head        1   0.01      0   0  until 5" in lines
    assert all(len(line) <= 100 for line in lines[1:])  # line 0 holds the (long, absolute) paths


def test_explain_json(spec_file: Path, params_file: Path) -> None:
    code, out, _ = run(f"explain {spec_file} --params {params_file} --format json")
    assert code == 0
    doc = json.loads(out)
    assert doc["format"] == "lrspec.plan/1" and doc["command"] == "explain"
    lrs = {p["name"]: p["lr_at_0"] for p in doc["params"]}
    assert lrs == {"body.weight": 0.01 * 0.1, "body.bias": 0.01 * 0.1, "head.weight": 0.0}
    assert {g["name"]: g["frozen_until"] for g in doc["groups"]} == {"body": None, "head": 5}
    assert run(f"explain {spec_file} --params {params_file} --format json")[1] == out  # deterministic


def test_compile_without_model(spec_file: Path) -> None:
    code, out, _ = run(f"compile {spec_file} --target torch")
    assert code == 0
    assert "default schedule: exponential(0.5 per 10, staircase)" in out
    assert any(line.split()[:3] == ["body", "body.*", "0.001"] for line in out.splitlines())
    assert any(line.split()[:2] == ["head", "head.*"] and "until 5" in line for line in out.splitlines())
    code, out, _ = run(f"compile {spec_file} --target tf --format json")
    doc = json.loads(out)
    assert doc["format"] == "lrspec.spec-summary/1" and doc["target"] == "tf"
    assert [(g["name"], g["lr"], g["freeze"]) for g in doc["groups"]] == [("body", 0.01 * 0.1, None), ("head", None, {"until_step": 5})]


def test_compile_with_params_file_as_model(spec_file: Path, params_file: Path) -> None:
    code, out, _ = run(f"compile {spec_file} --target tf --model {params_file} --format json")
    assert code == 0
    doc = json.loads(out)
    assert doc["source_kind"] == "params-file" and doc["optimizer_groups"] == ["body", "head"]


@pytest.mark.torch
def test_compile_demo_command() -> None:
    pytest.importorskip("torch")
    code, out, err = run(f"compile {EX / 'finetune_cnn.yaml'} --target torch --model lrspec_torch.examples:mnist_cnn")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "parameters (8)" in lines
    rows = {ln.split()[0]: ln.split() for ln in lines if ln.startswith(("conv", "fc"))}
    # the bundled lrspec_torch.examples.mnist_cnn: conv1 5x5x1x20, conv2 5x5x20x40, fc1 1960->1024, fc2 1024->10
    assert rows["conv1.weight"][1:4] == ["20x1x5x5", "conv", "1e-05"]
    assert rows["conv2.weight"][1] == "40x20x5x5"
    assert rows["fc1.weight"][1:4] == ["1024x1960", "dense", "0.001"]
    assert lines[-1] == "built: torch.optim.Adam with 2 optimizer groups"
    assert all(len(line) <= 100 for line in lines[1:])  # line 0 holds the (long, absolute) paths


def test_output_file_is_never_overwritten_silently(spec_file: Path, params_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    assert run(f"explain {spec_file} --params {params_file} --format json -o {target}")[0] == 0
    first = target.read_text()
    target.write_text("keep me")
    code, _, err = run(f"explain {spec_file} --params {params_file} --format json -o {target}")
    assert code == 1 and err == f"Error: {target}: the file exists; use --force to overwrite it\n"
    assert target.read_text() == "keep me"
    assert run(f"explain {spec_file} --params {params_file} --format json -o {target} --force")[0] == 0
    assert target.read_text() == first


def test_targets() -> None:
    from lrspec.targets import available_targets

    code, out, _ = run("targets")
    assert code == 0
    for info in available_targets():
        line = next(ln for ln in out.splitlines() if ln.split()[:1] == [info.name])
        assert ("installed" if info.installed else f"pip install '{info.extra}'") in line
    doc = json.loads(run("targets --format json")[1])
    assert [t["name"] for t in doc["targets"]][:3] == ["torch", "tf", "tf-v1"]


def test_no_command_prints_help() -> None:
    code, out, _ = run("")
    assert code == 2 and "usage: lrspec" in out


def test_python_dash_m_subprocess(spec_file: Path, params_file: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lrspec", "explain", str(spec_file), "--params", str(params_file), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["optimizer_groups"] == ["body", "head"]
    bad = subprocess.run([sys.executable, "-m", "lrspec", "compile", str(spec_file), "--target", "jax"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: lrspec compile: unknown target 'jax'") and "Traceback" not in bad.stderr


@pytest.mark.torch
def test_verify_torch_agrees(spec_file: Path, params_file: Path) -> None:
    pytest.importorskip("torch")
    code, out, err = run(f"verify {spec_file} --params {params_file} --steps 8 --targets torch")
    assert code == 0, err
    assert "result: all 1 target(s) agree with the reference" in out
    doc = json.loads(run(f"verify {spec_file} --params {params_file} --steps 8 --targets torch --format json")[1])
    assert doc["ok"] is True


def test_verify_exit_code_follows_the_report(spec_file: Path, params_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    verify_mod = importlib.import_module("lrspec.tools.verify")  # (lrspec.tools.verify is also the function)

    class Report:
        ok = False

        def to_dict(self) -> dict[str, object]:
            return {"ok": False}

    monkeypatch.setattr(verify_mod, "verify", lambda *a, **k: Report())
    monkeypatch.setattr(verify_mod, "format_report", lambda r: "diverged")
    assert run(f"verify {spec_file} --params {params_file}") == (1, "diverged\n", "")


def test_tensorflow_import_noise_is_filtered_but_other_stderr_passes() -> None:
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from lrspec.tools.cli import _without_tf_import_noise\n"
        "with _without_tf_import_noise():\n"
        "    os.write(2, b'keep: native line\\n')\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1795502366.962451   24100 port.cc:153] oneDNN custom operations are on. "
        "You may see slightly different numerical results.\\n')\n"
        "    print('keep: python line', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.splitlines() == ["keep: native line", "keep: python line", "after"]


def test_compile_for_tf_prints_no_tensorflow_noise() -> None:
    import subprocess
    import sys

    pytest.importorskip("tensorflow")
    cmd = [sys.executable, "-m", "lrspec", "compile", "examples/finetune_cnn.yaml", "--target", "tf",
           "--model", "lrspec_tf.examples:mnist_cnn"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "built: lrspec_keras.optimizers.TorchAdam with 2 optimizer groups" in proc.stdout
