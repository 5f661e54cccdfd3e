"""Every command of README.md's console blocks runs as written and prints what the README shows.

What is run: each line of a ```console block that starts with ``$ `` is a command (split with
:mod:`shlex`, ``lrspec`` resolved to the console script next to this interpreter, i.e. the
venv's); the lines after it, up to the next command or the end of the block, are its shown
output. Blocks that change the environment (``make``, ``pip``, ``python -m venv``) are ```sh
blocks, not console blocks: they are covered by ``make`` itself and by tests/test_wheel.py.

Where: like a reader of the README, in the repository root of a clone with the venv active; here
a temporary copy of what the commands read (``examples/``, ``schemas/``, and ``finetune.yaml``,
which the README asks the reader to save from its ```yaml block headed ``# finetune.yaml``), so
that files the commands write (``-o lr.png``) land in the temporary directory.

How the output is compared: stdout and stderr together, as a terminal shows them (trailing
whitespace of each line and trailing blank lines ignored). The shown lines must be the whole
output, in order, where a line ``...`` stands for any run of lines (none included). A command
shown with no output must print nothing. Every command must exit 0, and a file it names with
``-o`` must exist afterwards. No command needs a GPU today; one that does (``--device cuda``)
is skipped when ``torch.cuda.is_available()`` is false.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LRSPEC = Path(sys.executable).with_name("lrspec")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NEEDS_GPU = ("--device cuda", "--device=cuda")


@dataclass(frozen=True)
class Command:
    line: str
    shown: tuple[str, ...]


def blocks(kind: str) -> list[str]:
    """The bodies of README.md's fenced blocks of info string ``kind``, in order."""
    return [body for info, body in FENCE.findall(README.read_text(encoding="utf-8")) if info == kind]


def parse_console(body: str) -> list[Command]:
    """The ``$ `` commands of one console block with the output lines shown after each."""
    lines = body.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    assert first.startswith("$ "), f"a console block starts with a '$ ' command, not {first!r}"
    commands: list[Command] = []
    for ln in lines:
        if ln.startswith("$ "):
            commands.append(Command(ln[2:].strip(), ()))
        else:
            last = commands[-1]
            commands[-1] = Command(last.line, (*last.shown, ln.rstrip()))
    return [Command(c.line, tuple(_trim(list(c.shown)))) for c in commands]


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(shown: tuple[str, ...], output: str) -> bool:
    """Whether ``output`` is ``shown`` with each ``...`` line standing for any run of lines."""
    got = "".join(ln + "\n" for ln in _trim([ln.rstrip() for ln in output.splitlines()]))
    pattern = "".join(r"(?:.*\n)*?" if ln == "..." else re.escape(ln) + r"\n" for ln in shown)
    return re.fullmatch(pattern, got) is not None


COMMANDS = [c for body in blocks("console") for c in parse_console(body)]


def test_the_readme_has_the_session() -> None:
    names = [shlex.split(c.line)[:2] for c in COMMANDS]
    for sub in ("validate", "compile", "plot", "verify", "schema"):
        assert ["lrspec", sub] in names, f"README.md runs no `lrspec {sub}`"
    assert all(c.line.split()[0] == "lrspec" for c in COMMANDS), "console blocks run lrspec only"


def test_the_matching_rule() -> None:
    assert matches(("a", "...", "d"), "a\nb\nc\nd\n")
    assert matches(("a", "...", "b"), "a\nb\n")
    assert not matches(("a", "...", "d"), "a\nb\nd\ne\n")
    assert not matches(("b",), "a\nb\n")
    assert matches((), "\n")
    assert not matches((), "x\n")


def test_python_blocks_compile() -> None:
    for body in blocks("python"):
        compile(body, "README.md", "exec")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary stand-in for the repository root with the files the README's commands read."""
    work = tmp_path_factory.mktemp("readme")
    for name in ("examples", "schemas"):
        shutil.copytree(ROOT / name, work / name)
    specs = [b for b in blocks("yaml") if b.startswith("# finetune.yaml\n")]
    assert specs, "README.md has no ```yaml block headed '# finetune.yaml' for the reader to save"
    (work / "finetune.yaml").write_text(specs[-1], encoding="utf-8")
    return work


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c.line.split()[:2]) for c in COMMANDS])
def test_readme_command(command: Command, workdir: Path) -> None:
    if any(flag in command.line for flag in NEEDS_GPU):
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("needs a GPU")
    argv = shlex.split(command.line)
    assert argv[0] == "lrspec"
    argv[0] = str(LRSPEC)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleaved as on a terminal
    proc = subprocess.run(
        argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, f"$ {command.line}\nexit {proc.returncode}\n{proc.stdout}"
    assert matches(command.shown, proc.stdout), (
        f"$ {command.line}\n--- README.md shows:\n" + "\n".join(command.shown) + f"\n--- it prints:\n{proc.stdout}"
    )
    for flag, value in itertools.pairwise(argv):
        if flag in ("-o", "--output"):
            assert (workdir / value).is_file(), f"$ {command.line}: wrote no {value}"
