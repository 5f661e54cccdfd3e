"""The commands that need no framework: ``validate``, ``schema``, ``explain``, ``plot``."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from lrspec.errors import SpecError
from lrspec.tools.cli.common import (
    IMAGE_SUFFIXES,
    json_chunks,
    load_spec,
    output_path,
    read_params,
    resolve,
    write_file,
    write_output,
)
from lrspec.tools.cli.errors import EXIT_ERROR, EXIT_OK, error_lines, located
from lrspec.tools.render import printable

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
        out.write(f"{printable(path)}: ok ({spec.optimizer.type}, {n} group{'s' if n != 1 else ''})\n")
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
    from lrspec.tools.explain import plan_document, plan_table

    if args.output not in (None, "-"):
        output_path(args.output, args.force)  # refuse before the work, not after it
    spec = load_spec(args.spec)
    params = read_params(args.params)
    plan = resolve(spec, params, args.spec)
    if args.format == "json":
        doc = plan_document(plan, command="explain", spec=args.spec, params_file=args.params)
        write_output(json_chunks(doc), args.output, args.force, out)
        return EXIT_OK
    head = printable(f"{args.spec} with {args.params} ({len(plan.names)} parameters)")
    text = f"{head}\n\n{plan_table(plan)}\n"
    write_output(text, args.output, args.force, out)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Learning rate against update step, one curve per resulting group."""
    from lrspec.tools import plotting

    path = output_path(args.output, args.force, suffixes=IMAGE_SUFFIXES) if args.output is not None else None
    from lrspec.tools.cli.stderr import progress_stream
    from lrspec.tools.progress import Progress

    spec = load_spec(args.spec)
    plan = resolve(spec, read_params(args.params), args.spec) if args.params is not None else None
    with Progress("lrspec plot", progress_stream(err), unit="curves") as progress:
        if args.steps >= 100_000:  # a few seconds per curve and more
            progress.start(len(plan.groups) if plan is not None else len(spec.groups) + 1, "computing")
        if plan is not None:
            curves = plotting.plan_curves(plan, args.steps, progress)
        else:
            curves = plotting.spec_curves(spec, args.steps, progress)
    if path is not None:
        fmt = path.suffix.lower().lstrip(".")
        with located(args.output):
            figure = plotting.make_figure(curves, log=args.log, title=args.spec)
            try:
                write_file(path, lambda fh: plotting.save_plot_to(figure, fh, fmt), args.output)
            finally:
                import matplotlib.pyplot as plt

                plt.close(figure)
        err.write(f"wrote {printable(args.output)} ({len(curves)} curve{'s' if len(curves) != 1 else ''}, {args.steps} steps)\n")
        return EXIT_OK
    if args.format == "json":
        write_output(json_chunks(plotting.curves_json(curves, spec=args.spec)), None, False, out)
    else:
        out.write(plotting.sparkline_table(curves, log=bool(args.log)) + "\n")
    return EXIT_OK
