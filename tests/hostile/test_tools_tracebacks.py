"""Class: tracebacks from hostile input to the tools. Whatever the input or the environment,
the command prints ``Error: <where>: <what>`` lines and exits 1 or 2: mathtext in a title,
an unwritable or closed stdout, model code that raises anything or calls ``sys.exit``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tools_helpers import GOOD_PARAMS, GOOD_SPEC, run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spec.yaml").write_text(GOOD_SPEC)
    (tmp_path / "params.txt").write_text(GOOD_PARAMS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("name", ["$x^$.yaml", "a$b.yaml", "$\\frac{1}{$.yaml", "$$.yaml", "_hidden$.yaml"])
def test_spec_names_are_shown_literally_in_the_plot(work: Path, name: str) -> None:
    pytest.importorskip("matplotlib")
    from lrspec.tools import plotting

    (work / name).write_text(GOOD_SPEC)
    code, _, err = run_cli(["plot", name, "--steps", "5", "-o", "out.png"])
    assert code == 0, err
    curves = [plotting.Curve(name, (0.1, 0.2)), plotting.Curve("x", (0.1, 0.2))]  # any label, not only the title
    fig = plotting.make_figure(curves, title=name)
    try:
        fig.canvas.draw()  # mathtext would be parsed (and fail) here
        assert fig.axes[0].get_title().replace("\\$", "$").lstrip("\u200b") == name
        labels = [t.get_text().replace("\\$", "$").lstrip("\u200b") for t in fig.axes[0].get_legend().get_texts()]
        assert labels[0] == name
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _lrspec(args: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "lrspec", *args], cwd=cwd, env=env, text=True, capture_output=False, timeout=120, **kwargs  # type: ignore[call-overload]
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["schema"], ["validate", "spec.yaml"], ["explain", "spec.yaml", "--params", "params.txt", "--format", "json"]])
def test_stdout_on_a_full_device(work: Path, args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = _lrspec(args, work, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 1
    assert proc.stderr == "Error: stdout: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("args", [["schema"], ["validate", "spec.yaml"], ["targets"]])
def test_stdout_closed(work: Path, args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = " ".join([sys.executable, "-m", "lrspec", *args, ">&-"])
    proc = subprocess.run(command, shell=True, cwd=work, env=env, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: stdout: cannot write the output: "), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_a_broken_pipe_ends_quietly(work: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        f"{sys.executable} -m lrspec schema | head -c 1 >/dev/null", shell=True, cwd=work, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


MODEL_FAILURES = {
    "base_exception": ("class Boom(BaseException):\n    pass\n\ndef make():\n    raise Boom('kaboom')\n", "calling make() failed: Boom: kaboom"),
    "exits_in_call": ("import sys\ndef make():\n    sys.exit(3)\n", "calling make() called sys.exit(3)"),
    "generator_exit": ("def make():\n    raise GeneratorExit('gone')\n", "calling make() failed: GeneratorExit: gone"),
    "import_base_exception": ("class Boom(BaseException):\n    pass\nraise Boom('at import')\n", "importing module 'import_base_exception' failed: Boom: at import"),
    "argparse_script": (
        "import argparse\np = argparse.ArgumentParser(prog='train.py')\np.add_argument('--data', required=True)\n"
        "args = p.parse_args()\ndef make():\n    pass\n",
        "importing module 'argparse_script' called sys.exit(2)",
    ),
    "exits_with_text": ("import sys\nsys.exit('bye now')\n", "importing module 'exits_with_text' called sys.exit('bye now')"),
}


@pytest.mark.parametrize("module", list(MODEL_FAILURES))
def test_model_code_that_raises_anything(work: Path, module: str, capfd: pytest.CaptureFixture[str]) -> None:
    source, expected = MODEL_FAILURES[module]
    (work / f"{module}.py").write_text(source)
    code, out, err = run_cli(f"compile spec.yaml --target torch --model {module}:make")
    captured = capfd.readouterr()
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {module}:make: {expected}"), err
    assert "usage:" not in captured.out + captured.err  # the module's own usage text is not printed as ours
    if module == "argparse_script":
        assert "its output began: 'usage: train.py [-h] --data DATA'" in err
