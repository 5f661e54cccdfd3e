"""Hostile patterns: glob matching and ``re:`` matching are linear in the name's length (no
catastrophic backtracking), globs equal fnmatch.fnmatchcase, bad classes are clear errors."""

from __future__ import annotations

import fnmatch
import random
import time

import pytest

import lrspec
from lrspec.spec.patterns import NameIndex, PatternError, compile_pattern

BUDGET_S = 0.5  # each case below takes well under 10 ms; a backtracking engine takes minutes


def _timed_matches(pattern: str, names: list[str]) -> tuple[list[int], float]:
    p = compile_pattern(pattern, allow_index="{i}" in pattern)
    t0 = time.perf_counter()
    hits = NameIndex(names).matches(p)
    full = [k for k, n in enumerate(names) if p.fullmatch(n)]
    elapsed = time.perf_counter() - t0
    assert hits == full
    return hits, elapsed


@pytest.mark.parametrize(
    "pattern",
    [
        "*a*a*a*a*a*a*a*ab",  # 29 s before the fix, against 60 characters
        "*a" * 12 + "b",  # > 60 s before, against 200 characters
        "*?*?*?*?*?*?*?*?b",
        "*[a]*[a]*[a]*[a]*[a]*[a]*[!b]*b",
        "a*a*a*a*a*a*a*a*a*a*{i}*c",
        "*{i}*{i}".replace("{i}", "1", 1),
        "re:(a+)+b",  # 18 s before, against 29 characters
        "re:(a|a)*b",
        "re:(a*)*b",
        "re:(.*a){12}b",
        "re:(?:a?){30}a{30}",
    ],
)
@pytest.mark.parametrize("length", [60, 2000])
def test_matching_time_is_linear_in_the_name(pattern: str, length: int) -> None:
    names = ["a" * length, "a" * (length - 1) + "c", "x"]
    _, elapsed = _timed_matches(pattern, names)
    assert elapsed < BUDGET_S, f"{pattern!r} against {length} characters took {elapsed:.3f} s"


def test_resolve_with_hostile_patterns_is_fast() -> None:
    names = ["a" * 200 + str(k) for k in range(2000)]
    groups = [
        {"name": f"g{k}", "params": [p], "optional": True}
        for k, p in enumerate(["*a*a*a*a*a*a*a*a*a*a*a*ab", "re:(a+)+b", "re:(a|aa)*c"])
    ]
    spec = lrspec.validate({"version": 1, "optimizer": {"type": "sgd"}, "groups": groups})
    t0 = time.perf_counter()
    lrspec.resolve(spec, names)
    assert time.perf_counter() - t0 < 2.0


ALPHABET = "ab]![-*?.0^\\"


def test_glob_translation_equals_fnmatchcase_fuzzed() -> None:
    rnd = random.Random(20261201)
    compared = 0
    for _ in range(4000):
        pattern = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 9)))
        names = ["".join(rnd.choice("ab]![-.0^\\") for _ in range(rnd.randint(0, 9))) or "a" for _ in range(6)]
        try:
            p = compile_pattern(pattern)
        except PatternError as exc:
            assert "invalid range" in str(exc)
            continue
        got = NameIndex(names).matches(p)
        assert got == [k for k, n in enumerate(names) if fnmatch.fnmatchcase(n, pattern)], (pattern, names)
        compared += 1
    assert compared > 3000


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("[!]]*", ["a]", "x"], ["]", "]a"]),  # was translated as "not newline, then ']'"
        ("[]]", ["]"], ["a"]),
        ("[!]a]", ["b"], ["]", "a"]),
        ("[a-]", ["a", "-"], ["b"]),
        ("[!-a]", ["b"], ["-", "a"]),
        ("x[\t-~]y", ["x y", "x~y"], ["x\u00e9y"]),  # a range spanning the newline never crosses names
        ("[&&]", ["&"], ["a"]),
        ("[^a]", ["^", "a"], ["b"]),
        ("[", ["["], ["a"]),
        ("a[!", ["a[!"], ["ab"]),
    ],
)
def test_glob_classes(pattern: str, yes: list[str], no: list[str]) -> None:
    names = [*yes, *no]
    got = [names[k] for k in NameIndex(names).matches(compile_pattern(pattern))]
    assert got == yes
    assert got == [n for n in names if fnmatch.fnmatchcase(n, pattern)]


@pytest.mark.parametrize("pattern", ["[z-a]", "x[!z-a]*", "[a--]", "[9-0].*"])
def test_reversed_ranges_are_clear_errors(pattern: str) -> None:
    with pytest.raises(PatternError, match="invalid range"):
        compile_pattern(pattern)
    with pytest.raises(lrspec.SpecError, match=r"groups\[0\]\.params\[0\].*invalid range"):
        lrspec.validate({"version": 1, "optimizer": {"type": "sgd"}, "groups": [{"name": "g", "params": [pattern]}]})


@pytest.mark.parametrize("body", ["a(?=b)", "(a)\\1", "a++", "(?(1)a|b)", "a{1001}", "(?<=a)b"])
def test_regex_outside_re2_is_a_clear_error(body: str) -> None:
    with pytest.raises(PatternError, match="RE2 syntax"):
        compile_pattern("re:" + body)


def test_index_is_a_whole_digit_run_and_bounded() -> None:
    p = compile_pattern("*{i}.weight", allow_index=True)
    assert p.index_of("blocks.12.weight") == 12
    names = ["blocks.99999999999999999999.w", "blocks.1.w"]
    spec = lrspec.validate(
        {"version": 1, "optimizer": {"type": "sgd"}, "layer_decay": {"rate": 0.5, "layers": ["blocks.{i}.*"]}}
    )
    with pytest.raises(lrspec.ResolveError, match="larger than 9223372036854775807"):
        lrspec.resolve(spec, names)


def test_many_mistyped_patterns_report_fast() -> None:
    names = [f"blocks.{i}.layer{j}.weight" for i in range(5000) for j in range(20)]
    groups = [{"name": f"g{k}", "params": [f"blokcs.{k}.layr.weight"]} for k in range(200)]
    spec = lrspec.validate({"version": 1, "optimizer": {"type": "sgd"}, "groups": groups})
    t0 = time.perf_counter()
    with pytest.raises(lrspec.ResolveError) as info:
        lrspec.resolve(spec, names)
    assert time.perf_counter() - t0 < 10.0  # 38 s before (closest-name search per pattern)
    assert len(info.value.problems) == 201
    assert "closest names: blocks.0.layer0.weight" in str(info.value)
