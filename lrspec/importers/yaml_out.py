"""An imported spec as YAML, with comments naming where each part came from.

The header lists the tool, the warnings (how training with the spec differs from training
with the tool; none for an exact import) and notes; each top-level part and each group is
preceded by a comment naming the tool's key it came from. The text loads back
(:func:`lrspec.load_text`) to the same spec: ``to_yaml`` checks that before returning.
"""

from __future__ import annotations

from typing import Any

import yaml

from lrspec.importers._common import Imported, RecipeError

__all__ = ["to_yaml"]


class _Dumper(yaml.SafeDumper):
    """Block mappings; lists of scalars in flow style (``[0.1, 0.01]``), other lists as blocks."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(x, (list, dict)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list)


def _dump(data: Any, indent: int) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=110, allow_unicode=True)
    pad = " " * indent
    return "".join(pad + line + "\n" for line in text.splitlines())


def _comment(text: str, indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}# {line}\n" for line in text.replace("\r", " ").splitlines() or [""])


def to_yaml(imported: Imported, *, source: str | None = None) -> str:
    """The YAML text of ``imported.spec`` with provenance comments (``source``: the recipe file)."""
    from lrspec.spec.loader import load_text

    data = imported.spec.model_dump(mode="json", exclude_unset=True)
    data.setdefault("version", 1)
    head = f"lrspec spec imported from {imported.tool}" + (f" ({source})" if source else "")
    out = [_comment(head + " by 'lrspec import'", 0)]
    if imported.warnings:
        out.append(_comment("NOT EXACT -- differs from the tool as follows:", 0))
        out += [_comment(f"  - {w}", 0) for w in imported.warnings]
    else:
        out.append(_comment("exact: every parameter gets the tool's lr, weight decay and schedule", 0))
    out += [_comment(f"note: {n}", 0) for n in imported.notes]
    for key in ("version", "optimizer", "schedule", "layer_decay", "unmatched"):
        if key not in data:
            continue
        if key in imported.sources:
            out.append(_comment(f"from {imported.sources[key]}", 0))
        out.append(_dump({key: data[key]}, 0))
    if data.get("groups"):
        out.append("groups:\n")
        for group in data["groups"]:
            if group["name"] in imported.sources:
                out.append(_comment(f"from {imported.sources[group['name']]}", 2))
            out.append(_dump([group], 2))
    text = "".join(out)
    back = load_text(text)
    if back != imported.spec:
        raise RecipeError("", "internal: the YAML text does not load back to the imported spec")
    return text
