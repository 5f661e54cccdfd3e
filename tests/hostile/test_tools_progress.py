"""Issue 16: long commands show progress on stderr when it is a terminal, and nothing when it
is not (a file, a pipe: redirected output stays exactly what it was)."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from _tools_helpers import GOOD_PARAMS, GOOD_SPEC

from lrspec.tools.cli import run
from lrspec.tools.progress import Progress

ROOT = Path(__file__).resolve().parents[2]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_erases_the_line() -> None:
    stream = FakeTerminal()
    clock = iter(float(t) for t in range(100))
    with Progress("job", stream, clock=lambda: next(clock)) as progress:
        progress.start(4)
        for k in range(1, 5):
            progress(k, 4)
    text = stream.getvalue()
    assert "\rjob: 1/4 updates (25%)" in text and "\rjob: 4/4 updates (100%)" in text
    assert text.endswith("\r") and "\n" not in text
    final = text.split("\r")[-2]
    assert final.strip() == ""  # erased


def test_progress_is_throttled_but_shows_the_end() -> None:
    stream = FakeTerminal()
    with Progress("job", stream, clock=lambda: 0.0) as progress:
        for k in range(1, 1001):
            progress(k, 1000)
    assert stream.getvalue().count("updates") == 2  # the first and the last


@pytest.mark.parametrize("stream", [io.StringIO(), None])
def test_no_progress_when_not_a_terminal(stream: io.StringIO | None) -> None:
    with Progress("job", stream) as progress:
        progress.start(3)
        for k in range(1, 4):
            progress(k, 3)
    assert stream is None or stream.getvalue() == ""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spec.yaml").write_text(GOOD_SPEC)
    (tmp_path / "params.txt").write_text(GOOD_PARAMS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.torch
@pytest.mark.parametrize("tty", [True, False])
def test_verify_reports_progress_only_on_a_terminal(work: Path, tty: bool) -> None:
    pytest.importorskip("torch")
    out, err = io.StringIO(), FakeTerminal() if tty else io.StringIO()
    code = run(["verify", "spec.yaml", "--params", "params.txt", "--targets", "torch", "--steps", "20"], out, err)
    assert code == 0, err.getvalue()
    if tty:
        assert "lrspec verify: 20/20 updates (100%)" in err.getvalue()
        assert "\n" not in err.getvalue()  # only redrawn lines, erased at the end
    else:
        assert err.getvalue() == ""
    assert "result: all 1 target(s) agree" in out.getvalue()


@pytest.mark.torch
@pytest.mark.slow
def test_verify_progress_through_a_real_pty(work: Path) -> None:
    """The process's stderr is a pty: progress shows (also past the TF noise filter that routes
    fd 2 through a pipe); stdout, a pipe, holds only the report."""
    pytest.importorskip("torch")
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrspec", "verify", "spec.yaml", "--params", "params.txt", "--targets", "torch", "--steps", "30"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=follower, text=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=300)
    os.close(leader)
    seen = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "lrspec verify: 30/30 updates (100%)" in seen
    assert "lrspec verify" not in out.split("\n", 1)[1] or "updates (" not in out
