"""The commands that need no framework: ``validate``, ``schema``, ``explain``, ``plot``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from lrspec.errors import SpecError
from lrspec.tools.cli.common import json_text, load_spec, read_params, resolve, write_output
from lrspec.tools.cli.errors import EXIT_ERROR, EXIT_OK, UserError, error_lines

__all__ = ["cmd_explain", "cmd_plot", "cmd_schema", "cmd_validate"]


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate each SPEC; report every problem with file:line (later files are still checked)."""
    from lrspec.spec.loader import load

    status = EXIT_OK
    for path in args.specs:
        try:
            spec = load(path)
        except SpecError as exc:
            err.writelines(line + "\n" for line in error_lines(exc, path))
            status = EXIT_ERROR
            continue
        n = len(spec.groups)
        out.write(f"{path}: ok ({spec.optimizer.type}, {n} group{'s' if n != 1 else ''})\n")
    return status


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the JSON Schema of the spec format."""
    try:
        from lrspec.spec.schema import schema_text
    except ImportError:
        from lrspec.spec.models import Spec

        text = json.dumps(Spec.model_json_schema(), indent=2, sort_keys=True) + "\n"
    else:
        text = schema_text()
    write_output(text, args.output, args.force, out)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Resolve SPEC against a parameter list and print the plan."""
    from lrspec.tools.explain import plan_json, plan_table

    spec = load_spec(args.spec)
    params = read_params(args.params)
    plan = resolve(spec, params, args.spec)
    if args.format == "json":
        text = json_text(plan_json(plan, command="explain", spec=args.spec, params_file=args.params))
    else:
        text = f"{args.spec} with {args.params} ({len(plan.names)} parameters)\n\n{plan_table(plan)}\n"
    write_output(text, args.output, args.force, out)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Learning rate against update step, one curve per resulting group."""
    from lrspec.tools import plotting

    spec = load_spec(args.spec)
    if args.params is not None:
        curves = plotting.plan_curves(resolve(spec, read_params(args.params), args.spec), args.steps)
    else:
        curves = plotting.spec_curves(spec, args.steps)
    if args.output is not None:
        if Path(args.output).exists() and not args.force:
            raise UserError(args.output, "the file exists; use --force to overwrite it")
        plotting.save_plot(curves, args.output, log=args.log, title=args.spec)
        err.write(f"wrote {args.output} ({len(curves)} curve{'s' if len(curves) != 1 else ''}, {args.steps} steps)\n")
        return EXIT_OK
    if args.format == "json":
        out.write(json_text(plotting.curves_json(curves, spec=args.spec)))
    else:
        out.write(plotting.sparkline_table(curves, log=args.log) + "\n")
    return EXIT_OK
