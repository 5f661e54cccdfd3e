"""A safe YAML loader with the YAML 1.2 core schema's scalars (PyYAML implements YAML 1.1).

Plain scalars resolve as in YAML 1.2 core, so nothing a user writes changes meaning silently:

* ``true``/``false`` (any case the core schema allows) are booleans; ``yes``, ``no``, ``on``,
  ``off``, ``y``, ``n`` are strings (a key ``on:`` is the string ``"on"``).
* ``null``, ``~`` and the empty value are null.
* Integers are decimal (``-12``, ``1_000``), ``0x1F`` hexadecimal, ``0o17`` octal. A decimal
  with a leading zero (``010``) is an **error**: YAML 1.1 reads it as octal 8, YAML 1.2 as 10.
  Sexagesimal ``1:30`` (YAML 1.1: 90) is a string.
* Floats: ``1.5``, ``1e-5`` (YAML 1.1 needs a dot), ``.5``, ``.inf``, ``.nan`` (rejected
  later by validation).
* No implicit timestamps: ``2024-02-30`` is a string.

A scalar whose constructor fails (``!!float abc``, ``!!timestamp 2001-13-45``, an integer of
more than 4300 digits) is a ``ConstructorError`` at the scalar's line, never a bare
``ValueError``; an integer of more than :data:`MAX_INT_DIGITS` digits is such an error. Merge keys follow the merge-key spec: ``<<: [*a, *b]`` takes a key from the
*first* map that has it, and keys written in the mapping itself win over merged ones.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["SpecLoader"]

MAX_INT_DIGITS = 400
"""Longest integer read (a float reaches about 1.8e308; every integer setting is int64)."""

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_LEADING_ZERO = "tag:lrspec.dev,2026:leading-zero-int"

_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_RE = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F]+|0o[0-7]+)$")
_LEADING_ZERO_RE = re.compile(r"^[-+]?0[0-9_]+$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, located constructor errors, spec-true merge keys."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown!r} as {node.tag.rsplit(':', 1)[-1]}: {exc}", node.start_mark
            ) from None

    def construct_leading_zero(self, node: yaml.Node) -> Any:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{node.value!r}: an integer with a leading zero is ambiguous (YAML 1.1 reads it as octal, "
            "YAML 1.2 as decimal); write it without the leading zero (or 0o... for octal)",
            node.start_mark,
        )

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:  # type: ignore[override]
        value = str(self.construct_scalar(node)).replace("_", "")
        if len(value) > MAX_INT_DIGITS:
            raise ValueError(f"more than {MAX_INT_DIGITS} digits (beyond any number a spec can use)")
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith(("0x", "0b")):
            return int(value, 0)
        return int(value, 10)

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        own: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[list[tuple[yaml.Node, yaml.Node]]] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                subs = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for sub in subs:
                    if not isinstance(sub, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"a merge key (<<) needs a mapping or a list of mappings, got {sub.id}",
                            sub.start_mark,
                        )
                    self.flatten_mapping(sub)
                    merged.append(sub.value)
            else:
                if key_node.tag == "tag:yaml.org,2002:value":
                    key_node.tag = "tag:yaml.org,2002:str"
                own.append((key_node, value_node))
        if not merged:
            node.value = own
            return
        seen = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        first: list[tuple[yaml.Node, yaml.Node]] = []
        for pairs in merged:  # the first map that has a key wins (the merge-key spec)
            for k, v in pairs:
                if isinstance(k, yaml.ScalarNode) and k.value not in seen:
                    seen.add(k.value)
                    first.append((k, v))
        node.value = first + own


SpecLoader.yaml_implicit_resolvers = {}
for _tag, _rx, _first in (
    ("tag:yaml.org,2002:bool", _BOOL_RE, list("tTfF")),
    ("tag:yaml.org,2002:null", _NULL_RE, ["~", "n", "N", ""]),
    (_INT, _INT_RE, list("-+0123456789")),
    (_LEADING_ZERO, _LEADING_ZERO_RE, list("-+0")),
    (_FLOAT, _FLOAT_RE, list("-+0123456789.")),
    ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"]),
):
    SpecLoader.add_implicit_resolver(_tag, _rx, _first)
SpecLoader.add_constructor(_LEADING_ZERO, SpecLoader.construct_leading_zero)
SpecLoader.add_constructor(_INT, SpecLoader.construct_yaml_int)
