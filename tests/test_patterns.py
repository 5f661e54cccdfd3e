"""Name patterns: glob semantics, re: full match, {i}, and the fast scan agreeing with fullmatch."""

from __future__ import annotations

import fnmatch
import re

import pytest

from lrspec.spec.patterns import NameIndex, PatternError, compile_pattern, regex_is_line_safe

NAMES = [
    "features.0.weight",
    "features.0.bias",
    "features.10.weight",
    "classifier.weight",
    "classifier.bias",
    "blocks.3.attn.q.weight",
    "blocks.12.attn.q.bias",
    "blocks.12.norm1.weight",
    "a[1].x",
    "x",
]


def matched(pattern: str, names: list[str] = NAMES) -> list[str]:
    p = compile_pattern(pattern, allow_index="{i}" in pattern)
    return [names[k] for k in NameIndex(names).matches(p)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.bias", ["features.0.bias", "classifier.bias", "blocks.12.attn.q.bias"]),  # '*' crosses dots
        ("features.*", ["features.0.weight", "features.0.bias", "features.10.weight"]),
        ("features.?.weight", ["features.0.weight"]),
        ("features.[0-9].*", ["features.0.weight", "features.0.bias"]),
        ("features.[!0]*", ["features.10.weight"]),
        ("classifier", []),  # a glob must match the whole name
        ("*norm*", ["blocks.12.norm1.weight"]),
        ("a[[]1].x", ["a[1].x"]),
        ("x", ["x"]),
        ("X", []),  # case-sensitive
    ],
)
def test_globs(pattern: str, expected: list[str]) -> None:
    assert matched(pattern) == expected
    # same as fnmatch.fnmatchcase, name by name
    assert matched(pattern) == [n for n in NAMES if fnmatch.fnmatchcase(n, pattern)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("re:features\\.[0-9]+\\.weight", ["features.0.weight", "features.10.weight"]),
        ("re:features", []),  # full match, not search
        ("re:.*bias", ["features.0.bias", "classifier.bias", "blocks.12.attn.q.bias"]),
        ("re:[^.]+\\.bias", ["classifier.bias"]),  # negated class: not line-safe, per-name path
        ("re:(?i)CLASSIFIER\\..*", ["classifier.weight", "classifier.bias"]),  # global flag
        ("re:blocks\\.(\\d+)\\.attn\\.q\\.(weight|bias)", ["blocks.3.attn.q.weight", "blocks.12.attn.q.bias"]),
        ("re:^x$", ["x"]),
        ("re:\\w+", ["x"]),
        ("re:.*\\s.*", []),
    ],
)
def test_regexes_are_full_matches(pattern: str, expected: list[str]) -> None:
    assert matched(pattern) == expected
    body = pattern[3:]
    assert matched(pattern) == [n for n in NAMES if re.fullmatch(body, n)]


def test_scan_never_crosses_names() -> None:
    # a pattern that could match across the newline separating two names must not
    names = ["a", "b", "a.b"]
    for pattern in ("re:a\\sb", "re:a[^x]b", "re:(?s)a.b", "re:a\\nb", "re:a\\Db", "a?b", "a[!x]b"):
        expected = [n for n in names if compile_pattern(pattern).fullmatch(n)]
        assert matched(pattern, names) == expected, pattern


@pytest.mark.parametrize(
    ("body", "safe"),
    [
        ("blocks\\.[0-9]+\\..*", True),
        ("a|b\\d", True),
        ("\\w+(?=\\.)", True),
        ("a[^.]b", False),
        ("a\\s", False),
        ("(?s:.)", False),
        ("(?i)a", False),
        ("a\\Z", False),
        ("[\\t-~]", False),
        ("a[^\\n]+", True),
    ],
)
def test_regex_line_safety(body: str, safe: bool) -> None:
    assert regex_is_line_safe(body) is safe


def test_index_pattern() -> None:
    p = compile_pattern("blocks.{i}.*", allow_index=True)
    assert p.has_index
    assert p.index_of("blocks.12.attn.q.bias") == 12
    assert p.index_of("features.0.bias") is None
    rows, values = NameIndex(NAMES).match_indices(p)
    assert [NAMES[k] for k in rows] == ["blocks.3.attn.q.weight", "blocks.12.attn.q.bias", "blocks.12.norm1.weight"]
    assert values.tolist() == [3, 12, 12]
    rx = compile_pattern("re:features\\.{i}\\..*", allow_index=True)
    rows, values = NameIndex(NAMES).match_indices(rx)
    assert values.tolist() == [0, 0, 10]


@pytest.mark.parametrize(
    ("source", "allow", "message"),
    [
        ("blocks.{i}.*", False, "only allowed in layer_decay.layers"),
        ("a.{i}.{i}", True, "at most once"),
        ("re:", False, "empty regular expression"),
        ("re:(", False, "invalid regular expression '\\('"),
        ("re:a{i}(", True, "invalid regular expression 'a\\{i\\}\\('"),
    ],
)
def test_pattern_errors(source: str, allow: bool, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        compile_pattern(source, allow_index=allow)


def test_many_names_scan_agrees_with_fullmatch() -> None:
    names = [f"blocks.{i}.{p}" for i in range(300) for p in ("attn.q.weight", "attn.q.bias", "mlp.fc1.weight", "ln.bias")]
    index = NameIndex(names)
    for pattern in ("*.bias", "blocks.1?.*", "re:blocks\\.[0-9]*7\\.mlp\\..*", "blocks.299.ln.bias", "*"):
        p = compile_pattern(pattern)
        assert index.matches(p) == [k for k, n in enumerate(names) if p.fullmatch(n)]
