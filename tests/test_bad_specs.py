"""The corpus of bad specs in tests/bad_specs/: every file must be rejected with exactly the
problems it declares, each at its location, with its message and its file:line.

Each YAML file starts with one comment per expected problem::

    # expect: LINE LOCATION | MESSAGE FRAGMENT

(LINE is 1-based and counts these comment lines; ``-`` means "no line", LOCATION ``-`` means
the whole file). JSON files cannot hold comments, so their expectations sit in a sidecar
``NAME.json.expect`` with the same lines without the ``# ``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import lrspec
from lrspec import SpecError

CORPUS = Path(__file__).parent / "bad_specs"
EXPECT = re.compile(r"^(?:# )?expect: (?P<line>\d+|-) (?P<loc>\S+) \| (?P<fragment>.+)$")


@dataclass(frozen=True)
class Expected:
    line: int | None
    location: str
    fragment: str


def expectations(path: Path) -> list[Expected]:
    source = Path(str(path) + ".expect") if path.suffix == ".json" else path
    out = []
    for raw in source.read_text(encoding="utf-8").splitlines():
        m = EXPECT.match(raw)
        if m:
            out.append(
                Expected(
                    line=None if m["line"] == "-" else int(m["line"]),
                    location="" if m["loc"] == "-" else m["loc"],
                    fragment=m["fragment"],
                )
            )
    return out


FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".json"))


def test_corpus_is_large_and_every_file_declares_its_problems() -> None:
    assert len(FILES) >= 40
    assert sum(p.suffix == ".json" for p in FILES) >= 5
    for path in FILES:
        assert expectations(path), f"{path.name} declares no '# expect:' line"
    sidecars = {p.name[: -len(".expect")] for p in CORPUS.glob("*.expect")}
    assert sidecars == {p.name for p in FILES if p.suffix == ".json"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_bad_spec(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a tag that executed code would leave a marker here
    expected = expectations(path)
    with pytest.raises(SpecError) as info:
        lrspec.load(path)
    err = info.value
    assert isinstance(err, ValueError)
    got = [(p.location, p.line, p.message) for p in err.problems]
    assert len(err.problems) == len(expected), f"expected {len(expected)} problem(s), got {got}"
    text = str(err)
    for exp in expected:
        hits = [p for p in err.problems if p.location == exp.location and exp.fragment in p.message]
        assert hits, f"no problem at {exp.location!r} containing {exp.fragment!r}; got {got}"
        problem = hits[0]
        assert problem.file == str(path)
        assert problem.line == exp.line, f"{exp.location}: line {problem.line}, expected {exp.line}"
        where = f"{path}:{exp.line}:" if exp.line is not None else f"{path}: "
        assert where in text
        assert problem.render() in text
    assert not os.path.exists(tmp_path / "lrspec_pwned_marker")
    assert "Traceback" not in text


def test_python_tag_is_never_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "evil.yaml"
    spec.write_text("version: 1\noptimizer: !!python/object/apply:os.mkdir ['made_by_yaml']\n")
    with pytest.raises(SpecError, match="never executed"):
        lrspec.load(spec)
    assert not (tmp_path / "made_by_yaml").exists()
    assert list(tmp_path.iterdir()) == [spec]
