"""Class: data loss through ``-o FILE``. Every output path is checked as it will be written,
nothing is overwritten without ``--force``, and a failed write loses nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _tools_helpers import GOOD_PARAMS, GOOD_SPEC, run_cli

from lrspec.tools.cli import build_parser

#: every command that has -o, with the arguments it needs (a command gaining -o must be added)
COMMANDS = {
    "schema": "schema",
    "explain": "explain spec.yaml --params params.txt",
    "explain-json": "explain spec.yaml --params params.txt --format json",
    "compile": "compile spec.yaml --target torch",
    "compile-model": "compile spec.yaml --target torch --model params.txt --format json",
    "plot": "plot spec.yaml --steps 5",
}
SUFFIX = {"plot": ".png"}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spec.yaml").write_text(GOOD_SPEC)
    (tmp_path / "params.txt").write_text(GOOD_PARAMS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _commands_with_output() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name for name, p in sub.choices.items() if any("-o" in a.option_strings for a in p._actions)}  # type: ignore[union-attr]


#: commands with -o whose keep-without-force test lives with the command (it needs a model source)
COVERED_ELSEWHERE = {"import": "tests/importers/test_import_cli.py::test_mmengine_example_writes_commented_yaml_equal_to_the_library"}


def test_every_output_command_is_covered() -> None:
    assert _commands_with_output() == {c.split()[0] for c in COMMANDS.values()} | set(COVERED_ELSEWHERE)


@pytest.mark.parametrize("key", list(COMMANDS))
def test_existing_file_is_kept_without_force(work: Path, key: str) -> None:
    if key == "plot":
        pytest.importorskip("matplotlib")
    name = "out" + SUFFIX.get(key, ".txt")
    (work / name).write_text("precious")
    code, _, err = run_cli(f"{COMMANDS[key]} -o {name}")
    assert code == 1 and err == f"Error: {name}: the file exists; use --force to overwrite it\n"
    assert (work / name).read_text() == "precious"
    code, _, err = run_cli(f"{COMMANDS[key]} -o {name} --force")
    assert code == 0, err
    assert (work / name).read_bytes() != b"precious"
    assert sorted(p.name for p in work.iterdir()) == sorted(["spec.yaml", "params.txt", name])  # no temp file left


@pytest.mark.parametrize("key", list(COMMANDS))
def test_a_folder_is_refused_even_with_force(work: Path, key: str) -> None:
    folder = work / ("dir" + SUFFIX.get(key, ""))
    folder.mkdir()
    code, _, err = run_cli(f"{COMMANDS[key]} -o {folder.name} --force")
    assert code == 1 and err.startswith(f"Error: {folder.name}: ") and ("folder" in err or "suffix" in err)
    assert list(folder.iterdir()) == [] and not (work / (folder.name + ".png")).exists()


@pytest.mark.parametrize("name", ["lr", "lr.", "lr.PNG.txt", "lr.jpeg"])
def test_plot_needs_an_explicit_image_suffix(work: Path, name: str) -> None:
    for existing in ("lr.png", name):
        (work / existing).write_text("precious")
    for force in ("", " --force"):
        code, _, err = run_cli(f"plot spec.yaml -o {name}{force}")
        assert code == 1 and err.startswith(f"Error: {name}: the file name must end in"), err
    assert {p.name: p.read_text() for p in work.iterdir() if p.name.startswith("lr")} == {
        "lr.png": "precious", name: "precious"
    }


def test_plot_writes_exactly_the_name_given(work: Path) -> None:
    pytest.importorskip("matplotlib")
    for name, magic in (("a.png", b"\x89PNG"), ("b.SVG", b"<?xml"), ("c.pdf", b"%PDF")):
        code, _, err = run_cli(f"plot spec.yaml --steps 5 -o {name}")
        assert code == 0 and err.startswith(f"wrote {name} "), err
        assert (work / name).read_bytes().startswith(magic)
    assert sorted(p.name for p in work.iterdir()) == ["a.png", "b.SVG", "c.pdf", "params.txt", "spec.yaml"]


def test_a_failed_write_loses_nothing(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "plan.json").write_text("precious")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    code, _, err = run_cli("explain spec.yaml --params params.txt --format json -o plan.json --force")
    assert code == 1 and err == "Error: plan.json: cannot write the file: No space left on device\n"
    assert (work / "plan.json").read_text() == "precious"
    assert sorted(p.name for p in work.iterdir()) == ["params.txt", "plan.json", "spec.yaml"]


def test_a_missing_folder_is_a_clear_error(work: Path) -> None:
    code, _, err = run_cli("schema -o no/such/dir/schema.json")
    assert code == 1 and err.startswith("Error: no/such/dir/schema.json: cannot write the file: ")


def test_a_symlink_is_an_existing_file(work: Path) -> None:
    (work / "real.txt").write_text("precious")
    os.symlink(work / "real.txt", work / "link.txt")
    code, _, err = run_cli("schema -o link.txt")
    assert code == 1 and "the file exists" in err and (work / "real.txt").read_text() == "precious"


def test_output_is_refused_before_the_work(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "plan.txt").write_text("precious")
    from lrspec.tools import explain

    def fail(*args: object, **kwargs: object) -> str:
        raise AssertionError("the plan was rendered although the output is refused")

    monkeypatch.setattr(explain, "plan_table", fail)
    assert run_cli("explain spec.yaml --params params.txt -o plan.txt")[0] == 1
