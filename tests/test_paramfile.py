"""Parameter lists: the text format (name [shape], comments) and JSON (map or list)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrspec.tools.paramfile import ParamFileError, parse_param_text, parse_shape, read_params


@pytest.mark.parametrize(
    ("text", "shape"),
    [("20,1,5,5", (20, 1, 5, 5)), ("[20, 1, 5, 5]", (20, 1, 5, 5)), ("(7,)", (7,)), ("10", (10,)), ("[]", ()), (" 3 , 4 ", (3, 4))],
)
def test_parse_shape(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["20x1", "-1,2", "[3,4", "a,b", "1.5", "3,,4"])
def test_parse_shape_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid shape"):
        parse_shape(text)


def test_text_format_names_shapes_comments() -> None:
    text = "# header\n\nconv1.weight 20,1,5,5  # trailing comment\nconv1.bias [20]\nfc.weight\n   \n"
    assert parse_param_text(text) == {"conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,), "fc.weight": None}


def test_text_order_is_file_order() -> None:
    assert list(parse_param_text("b\na\nc\n")) == ["b", "a", "c"]


def test_text_errors_have_file_and_line() -> None:
    with pytest.raises(ParamFileError) as info:
        parse_param_text("a 1,2\nb 1;2\nc\na\n", "p.txt")
    assert [p.render() for p in info.value.problems] == [
        "p.txt:2: invalid shape '1;2': expected comma-separated integers like 20,1,5,5 or [20, 1, 5, 5]",
        "p.txt:4: parameter 'a' is listed twice (first on line 1)",
    ]


def test_empty_file_is_an_error() -> None:
    with pytest.raises(ParamFileError, match=r"p.txt: no parameter names"):
        parse_param_text("# only a comment\n", "p.txt")


def test_json_mapping_and_list(tmp_path: Path) -> None:
    m = tmp_path / "p.json"
    m.write_text('{"a.kernel": [3, 4], "a.bias": [4], "b": null}')
    assert read_params(m) == {"a.kernel": (3, 4), "a.bias": (4,), "b": None}
    lst = tmp_path / "l.json"
    lst.write_text('["x", "y"]')
    assert read_params(lst) == {"x": None, "y": None}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": [1, -2]}', "'a': the shape must be a list of non-negative integers"),
        ('{"a": "3"}', "'a': the shape must be"),
        ('["x", 3]', "[1]: expected a parameter name"),
        ('["x", "x"]', "[1]: parameter 'x' is listed twice"),
        ("42", "expected an object name -> shape or a list of names"),
        ('{"a": [1]', "invalid JSON"),
    ],
)
def test_json_errors(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "p.json"
    p.write_text(content)
    with pytest.raises(ParamFileError) as info:
        read_params(p)
    assert str(p) in str(info.value)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParamFileError, match="file not found"):
        read_params(tmp_path / "nope.txt")


def test_every_bundled_params_file_reads() -> None:
    files = sorted(Path(__file__).resolve().parents[1].glob("examples/params/*"))
    assert files, "examples/params is empty"
    for f in files:
        params = read_params(f)
        assert params and all(isinstance(n, str) and n for n in params)
