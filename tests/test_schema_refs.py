"""Every ``$schema`` reference a reader meets resolves to a file, and the examples validate against it.

Scanned: README.md, docs/*.md and every file in examples/ (not examples/params/). A reference
is the ``$schema=PATH`` of a ``# yaml-language-server:`` comment, or a JSON ``"$schema": "PATH"``.
A URL does not count as resolving (there is no published schema site); a path resolves
relative to the file that contains it:

* an example spec in examples/: ``../schemas/lrspec-v1.schema.json`` from examples/;
* README.md's ``finetune.yaml`` snippet: the README asks the reader to save it in the
  repository root, where README.md itself is, so its path is relative to the root;
* docs/*.md snippets show the first line of the specs in examples/ (``../schemas/...``),
  which from docs/, one level below the root as examples/ is, names the same file.

Each example spec, and the README's snippet, must then validate (jsonschema, draft 2020-12)
against the schema file its own reference names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from lrspec.spec.loader import parse_text

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_REF = re.compile(r"\$schema=([^\s`'\"]+)|\"\$schema\"\s*:\s*\"([^\"]+)\"")
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *EXAMPLES]


def refs_in(text: str) -> list[str]:
    """The ``$schema`` targets named in ``text``, in order."""
    return [a or b for a, b in SCHEMA_REF.findall(text)]


def refs(path: Path) -> list[str]:
    return refs_in(path.read_text(encoding="utf-8"))


def resolve_ref(path: Path, ref: str) -> Path:
    assert "://" not in ref, f"{path.relative_to(ROOT)}: $schema {ref!r} is a URL, not a file the reader has"
    return (path.parent / ref).resolve()


def validate(data: object, schema_file: Path) -> None:
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_the_places_readers_look_have_references() -> None:
    assert refs(ROOT / "README.md"), "README.md shows no $schema line"
    assert refs(ROOT / "docs" / "spec.md"), "docs/spec.md shows no $schema line"
    assert EXAMPLES
    for path in EXAMPLES:
        assert refs(path), f"{path.relative_to(ROOT)} has no $schema reference"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_reference_resolves_to_a_schema_file(path: Path) -> None:
    for ref in refs(path):
        target = resolve_ref(path, ref)
        assert target.is_file(), f"{path.relative_to(ROOT)}: $schema={ref} names {target}, which does not exist"
        assert json.loads(target.read_text(encoding="utf-8"))["$schema"].startswith("https://json-schema.org/")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_against_its_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data, _ = parse_text(text)  # lrspec's YAML reading (1.0e-5 is a float)
    for ref in refs(path):
        validate(data, resolve_ref(path, ref))


def test_readme_spec_validates_against_its_schema() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippets = [s for s in re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M) if "$schema=" in s]
    assert snippets, "README.md has no yaml snippet with a $schema line"
    for snippet in snippets:
        data, _ = parse_text(snippet)
        for ref in refs_in(snippet):
            validate(data, resolve_ref(ROOT / "README.md", ref))
