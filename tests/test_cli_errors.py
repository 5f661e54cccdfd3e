"""Every user error: one `Error: <where>: <what>` line per problem on stderr, exit 1 (2 for
usage), never a traceback."""

from __future__ import annotations

import contextlib
import io
import shlex
import sys
from pathlib import Path

import pytest

from lrspec.tools.cli import main

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
GOOD = "version: 1\noptimizer: {type: sgd, lr: 0.1}\ngroups:\n  - {name: a, params: ['a.*']}\n"


def run(cmdline: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(shlex.split(cmdline))
    return code, out.getvalue(), err.getvalue()


def check(cmdline: str, code: int, *fragments: str) -> list[str]:
    got, _, err = run(cmdline)
    lines = err.splitlines()
    assert got == code, err
    assert lines, "expected an error message"
    assert all(line.startswith("Error: ") for line in lines), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return lines


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "params.txt").write_text("a.weight 2,2\nb.weight 3\n")
    (tmp_path / "bad.yaml").write_text(
        "version: 1\noptimizer: {type: sgd, lr: -1}\ngroups:\n  - {name: a, params: ['a'], lr: 0.1, lr_mult: 2}\n"
    )
    (tmp_path / "mymodels.py").write_text(
        "def broken():\n    raise RuntimeError('no weights here')\n\n\ndef not_a_model():\n    return 42\n"
    )
    (tmp_path / "badimport.py").write_text("import definitely_not_a_module_xyz\n")
    return tmp_path


# ------------------------------------------------------------------ usage errors: exit 2


@pytest.mark.parametrize(
    ("cmdline", "fragment"),
    [
        ("frobnicate", "invalid choice: 'frobnicate'"),
        ("validate", "the following arguments are required: SPEC"),
        ("explain good.yaml", "the following arguments are required: --params"),
        ("explain good.yaml --params params.txt --colour", "unrecognized arguments: --colour"),
        ("compile good.yaml --target jax", "unknown target 'jax'"),
        ("compile good.yaml --target torc", "(did you mean 'torch'?)"),
        ("compile good.yaml --target torch --emit python", "--emit python needs --model"),
        ("compile good.yaml --target torch --emit rust --model params.txt", "invalid choice: 'rust'"),
        ("plot good.yaml --steps 0", "expected a positive integer"),
        ("explain good.yaml --params params.txt --format xml", "invalid choice: 'xml'"),
        ("verify good.yaml --params params.txt --targets torch,jax", "unknown target 'jax'"),
    ],
)
def test_usage_errors(work: Path, cmdline: str, fragment: str) -> None:
    lines = check(cmdline, 2, fragment)
    assert len(lines) == 1


# ------------------------------------------------------------------ user errors: exit 1


def test_missing_spec_file(work: Path) -> None:
    assert check("validate nope.yaml", 1) == ["Error: nope.yaml: file not found"]


def test_invalid_spec_lists_every_problem_with_file_line(work: Path) -> None:
    lines = check("validate bad.yaml good.yaml", 1)
    assert any(line.startswith("Error: bad.yaml:2:") and "optimizer.lr" in line for line in lines)
    assert any(line.startswith("Error: bad.yaml:4:") and "lr_mult" in line for line in lines)
    assert len(lines) >= 2
    _, out, _ = run("validate bad.yaml good.yaml")
    assert out == "good.yaml: ok (sgd, 1 group)\n"  # later files are still checked


def test_invalid_spec_in_explain(work: Path) -> None:
    check("explain bad.yaml --params params.txt", 1, "bad.yaml:2:")


def test_yaml_python_tag_is_refused(work: Path) -> None:
    (work / "evil.yaml").write_text("version: !!python/object/apply:os.system ['echo hi']\n")
    check("validate evil.yaml", 1, "evil.yaml:1:")


def test_resolution_error(work: Path) -> None:
    (work / "typo.yaml").write_text(GOOD.replace("'a.*'", "'head.*'"))
    lines = check("explain typo.yaml --params params.txt", 1, "typo.yaml: ", "'head.*' matches no parameter")
    assert len(lines) == 1


def test_missing_params_file(work: Path) -> None:
    assert check("explain good.yaml --params nope.txt", 1) == ["Error: nope.txt: file not found"]


def test_bad_params_file_has_line_numbers(work: Path) -> None:
    (work / "p.txt").write_text("a.weight 2,2\nb.weight 3x3\nb.weight\n")
    lines = check("explain good.yaml --params p.txt", 1)
    assert lines[0].startswith("Error: p.txt:2: invalid shape '3x3'")
    assert lines[1] == "Error: p.txt:3: parameter 'b.weight' is listed twice (first on line 2)"


def test_model_source_module_not_found(work: Path) -> None:
    assert check("compile good.yaml --target torch --model nosuchmodule_xyz:make", 1) == [
        "Error: nosuchmodule_xyz:make: cannot import module 'nosuchmodule_xyz': No module named 'nosuchmodule_xyz'"
    ]


def test_model_source_import_fails_inside(work: Path) -> None:
    check("compile good.yaml --target torch --model badimport:x", 1, "badimport:x: cannot import module 'badimport'")


def test_model_source_missing_attribute(work: Path) -> None:
    check("compile good.yaml --target torch --model mymodels:nothing", 1, "module 'mymodels' has no attribute 'nothing'")


def test_model_source_callable_fails(work: Path) -> None:
    assert check("compile good.yaml --target torch --model mymodels:broken", 1) == [
        "Error: mymodels:broken: calling broken() failed: RuntimeError: no weights here"
    ]


def test_model_source_returns_something_else(work: Path) -> None:
    check("compile good.yaml --target torch --model mymodels:not_a_model", 1, "gave a int, not a torch.nn.Module or a Keras model")


def test_model_source_not_a_file_or_reference(work: Path) -> None:
    check("compile good.yaml --target torch --model nothing/here.pt", 1, "nothing/here.pt: no such file")


@pytest.mark.torch
def test_checkpoint_not_a_state_dict(work: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"epoch": 3, "lr": 0.1}, work / "ckpt.pt")
    check("compile good.yaml --target torch --model ckpt.pt", 1, "ckpt.pt: is not a state_dict")
    torch.save([torch.zeros(2)], work / "list.pt")
    check("compile good.yaml --target torch --model list.pt", 1, "list.pt: holds a list, not a state_dict")


@pytest.mark.torch
def test_pickled_module_is_refused(work: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(2, 2), work / "whole.pt")
    check(
        "compile good.yaml --target torch --model whole.pt", 1,
        "whole.pt: holds pickled Python objects (e.g. a whole nn.Module or optimizer), which lrspec never unpickles",
    )


@pytest.mark.torch
def test_model_of_the_wrong_framework(work: Path) -> None:
    pytest.importorskip("torch")
    check(
        "compile good.yaml --target tf --model lrspec_torch.examples:mnist_cnn", 1,
        "gave a torch model, but --target tf needs a Keras model (use --target torch)",
    )


def test_framework_not_installed(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "ckpt.pt").write_bytes(b"not really")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    assert check("compile good.yaml --target torch --model ckpt.pt", 1) == [
        "Error: ckpt.pt: a PyTorch checkpoint needs 'torch', which is not installed; install it with: pip install 'lrspec[torch]'"
    ]


def test_target_not_installed(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lrspec import targets
    from lrspec.tools import model_sources

    fake = model_sources.ModelSource("m:make", "callable", model=object(), target="torch")
    monkeypatch.setattr(model_sources, "open_source", lambda source, target=None: fake)
    monkeypatch.setitem(targets.BUILTIN_TARGETS, "torch", ("lrspec_missing_adapter_xyz.target:TARGET", "lrspec[torch]"))
    check("compile good.yaml --target torch --model m:make", 1, "Error: --target torch:", "pip install 'lrspec[torch]'")


def test_plot_without_matplotlib(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert check("plot good.yaml -o lr.png", 1) == [
        "Error: lr.png: plotting needs matplotlib, which is not installed; install it with: pip install 'lrspec[plot]'"
    ]


def test_existing_output_is_refused(work: Path) -> None:
    (work / "lr.png").write_text("x")
    assert check("plot good.yaml -o lr.png", 1) == ["Error: lr.png: the file exists; use --force to overwrite it"]


def test_emit_for_tf_v1_is_refused(work: Path) -> None:
    check("compile good.yaml --target tf-v1 --model params.txt --emit python", 1, "--emit python supports the targets torch, tf")


def test_errors_are_rendered_from_their_problems_in_one_place() -> None:
    from lrspec.errors import Problem, ResolveError, SourceError, SpecError, TargetError
    from lrspec.tools.cli.errors import error_lines

    # a heading line is left out; problems without a file take the command's default where
    assert error_lines(ResolveError("cannot resolve the spec:\n  a bad\n  b bad"), "s.yaml") == [
        "Error: s.yaml: a bad", "Error: s.yaml: b bad",
    ]
    assert error_lines(TargetError("not installed"), "--target tf") == ["Error: --target tf: not installed"]
    assert error_lines(TargetError("not installed")) == ["Error: TargetError: not installed"]
    # a problem with a file keeps its own position; a source is its own where
    located_problem = SpecError(Problem("groups[0].lr", "must be > 0", file="s.yaml", line=3, column=7))
    assert error_lines(located_problem, "ignored") == ["Error: s.yaml:3:7: groups[0].lr: must be > 0"]
    assert error_lines(SourceError("m.pt", "is corrupt\nreally")) == ["Error: m.pt: is corrupt", "Error: m.pt: really"]
