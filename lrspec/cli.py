"""The ``lrspec`` command line (also ``python -m lrspec``). Placeholder until the CLI lands."""

from __future__ import annotations

import json
import sys

from lrspec.errors import LrSpecError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["schema"]:
        from lrspec.spec import Spec

        print(json.dumps(Spec.model_json_schema(), indent=2))
        return 0
    if args[:1] == ["validate"]:
        from lrspec.loader import load

        status = 0
        for path in args[1:]:
            try:
                load(path)
                print(f"{path}: ok")
            except LrSpecError as exc:
                print(f"Error: {exc}", file=sys.stderr)
                status = 1
        return status
    print("usage: lrspec {validate,schema} ...", file=sys.stderr)
    return 2
