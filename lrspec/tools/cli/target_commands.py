"""The commands about targets: ``targets`` (what is installed) and ``verify`` (every target
against the NumPy reference)."""

from __future__ import annotations

import argparse
import importlib
from typing import TextIO

from lrspec.tools.cli.common import check_target, json_text, load_spec, read_params, resolve
from lrspec.tools.cli.errors import EXIT_ERROR, EXIT_OK, UserError, located

__all__ = ["cmd_targets", "cmd_verify"]


def cmd_targets(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The known targets, whether they are installed, and the extra to install."""
    from lrspec.targets import available_targets
    from lrspec.tools.render import render_table

    infos = available_targets()
    if args.format == "json":
        data = {
            "format": "lrspec.targets/1",
            "targets": [
                {"name": t.name, "installed": t.installed, "extra": t.extra, "source": t.source, "problem": t.problem}
                for t in infos
            ],
        }
        out.write(json_text(data))
        return EXIT_OK
    rows = []
    for t in infos:
        status = "installed" if t.installed else f"not installed ({t.problem})" if t.problem else "not installed"
        install = "-" if t.installed else f"pip install '{t.extra}'"
        rows.append([t.name, status, install, t.source])
    out.write(render_table(["target", "status", "to install", "implementation"], rows) + "\n")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the spec through every target with the same gradients and compare with the
    NumPy reference (:func:`lrspec.tools.verify.verify`); exit 1 when any target diverges or fails."""
    try:
        verify_mod = importlib.import_module("lrspec.tools.verify")
    except ImportError as exc:
        raise UserError("lrspec verify", f"not available in this installation ({exc})") from None
    targets = [t.strip() for t in args.targets.split(",") if t.strip()] if args.targets else None
    for t in targets or []:
        check_target(t, "lrspec verify")
    spec = load_spec(args.spec)
    params = read_params(args.params)
    resolve(spec, params, args.spec)  # resolution errors located at the spec, before any framework import
    from lrspec.tools.cli.stderr import progress_stream
    from lrspec.tools.progress import Progress

    with located("lrspec verify"), Progress("lrspec verify", progress_stream(err)) as progress:
        progress.start(args.steps, "starting the targets")
        report = verify_mod.verify(
            spec, params, targets=targets, steps=args.steps, dtype=getattr(args, "dtype", "float32"), progress=progress
        )
    if args.format == "json":
        out.write(json_text(report.to_dict()))
    else:
        out.write(str(verify_mod.format_report(report)).rstrip("\n") + "\n")
    return EXIT_OK if report.ok else EXIT_ERROR
