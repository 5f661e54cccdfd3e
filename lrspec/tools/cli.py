"""The ``lrspec`` command line (also ``python -m lrspec``): a thin shell over the library.

Commands: ``validate``, ``schema``, ``explain``, ``compile``, ``plot``, ``targets``,
``verify`` (docs/cli.md). Human output is a deterministic plain-text table that fits 100
columns; ``--format json`` prints a stable, documented document built from the same data.

Exit codes: 0 ok; 1 a user error (invalid spec, resolution error, missing file, failing model
source, framework not installed, diverging ``verify``); 2 a usage error (unknown command,
option or target). Every error is printed as ``Error: <where>: <what>`` on stderr, one line
per problem, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from lrspec.errors import LrSpecError, SpecError

__all__ = ["UsageError", "UserError", "build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A command line that cannot be parsed (exit code 2)."""


class UserError(Exception):
    """A user error with a location: printed as ``Error: <where>: <what>`` (exit code 1)."""

    def __init__(self, where: str, what: str):
        self.where = where
        self.what = what
        super().__init__(f"{where}: {what}")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


# ------------------------------------------------------------------ helpers


def _target_names() -> list[str]:
    from lrspec.targets import available_targets

    return [t.name for t in available_targets()]


def _check_target(name: str, prog: str) -> str:
    known = _target_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"{prog}: unknown target {name!r}{hint}; known targets: {', '.join(known)}")
    return name


def _load_spec(path: str) -> Any:
    from lrspec.spec.loader import load

    return load(path)


def _read_params(path: str) -> dict[str, tuple[int, ...] | None]:
    from lrspec.tools.paramfile import read_params

    return read_params(path)


def _resolve(spec: Any, params: Any, spec_path: str) -> Any:
    from lrspec.errors import ResolveError
    from lrspec.resolve import resolve

    try:
        return resolve(spec, params)
    except ResolveError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        if len(lines) > 1 and lines[0].endswith(":"):
            lines = lines[1:]
        raise _MultiError([(spec_path, ln) for ln in lines]) from None


class _MultiError(Exception):
    """Several ``(where, what)`` problems (exit code 1)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))


def _write_output(text: str, out: str | None, force: bool, stdout: TextIO) -> None:
    """Print ``text`` or write it to ``out`` (refusing to overwrite unless ``force``)."""
    if out is None or out == "-":
        stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path = Path(out)
    if path.exists() and not force:
        raise UserError(out, "the file exists; use --force to overwrite it")
    try:
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(out, f"cannot write the file: {exc.strerror or exc}") from None


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ commands


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate each SPEC; report every problem with file:line."""
    status = EXIT_OK
    for path in args.specs:
        try:
            spec = _load_spec(path)
        except SpecError as exc:
            for p in exc.problems:
                rendered = p.render()
                err.write(f"Error: {rendered if p.file else f'{path}: {rendered}'}\n")
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
    _write_output(text, args.output, args.force, out)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Resolve SPEC against a parameter list and print the plan."""
    from lrspec.tools.explain import plan_json, plan_table

    spec = _load_spec(args.spec)
    params = _read_params(args.params)
    plan = _resolve(spec, params, args.spec)
    if args.format == "json":
        text = _json_text(plan_json(plan, command="explain", spec=args.spec, params_file=args.params))
    else:
        text = f"{args.spec} with {args.params} ({len(plan.names)} parameters)\n\n{plan_table(plan)}\n"
    _write_output(text, args.output, args.force, out)
    return EXIT_OK


def _model_plan(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """(spec, plan, source, compiled-or-None) for ``compile --model``."""
    from lrspec.errors import TargetError
    from lrspec.targets import get_target
    from lrspec.tools.model_sources import open_source

    spec = _load_spec(args.spec)
    source = open_source(args.model)
    if source.model is None:
        return spec, _resolve(spec, source.params, args.spec), source, None
    wants = "torch" if args.target == "torch" else "keras" if args.target in ("tf", "tf-v1") else None
    if wants is not None and source.framework != wants:
        need = "a torch.nn.Module" if wants == "torch" else "a Keras model"
        use = "torch" if source.framework == "torch" else "tf"
        raise UserError(args.model, f"gave a {source.framework} model, but --target {args.target} needs {need} (use --target {use})")
    try:
        target = get_target(args.target)
    except TargetError as exc:
        raise UserError(f"--target {args.target}", str(exc)) from None
    try:
        params = target.parameters(source.model)
    except LrSpecError:
        raise
    except Exception as exc:
        raise UserError(args.model, f"cannot list the model's parameters: {type(exc).__name__}: {exc}") from None
    plan = _resolve(spec, params, args.spec)
    compiled = None
    if args.emit is None:
        try:
            compiled = target.compile(plan, source.model)
        except LrSpecError as exc:
            raise UserError(f"--target {args.target}", str(exc)) from None
        except Exception as exc:
            raise UserError(f"--target {args.target}", f"compiling the plan failed: {type(exc).__name__}: {exc}") from None
    return spec, plan, source, compiled


def _built_line(target: str, plan: Any, compiled: Any) -> str:
    optimizer = getattr(compiled, "optimizer", None) if compiled is not None else None
    n = len(plan.trainable_groups)
    if optimizer is not None:
        cls = type(optimizer)
        module = "torch.optim" if cls.__module__.startswith("torch.optim.") else cls.__module__
        return f"built: {module}.{cls.__qualname__} with {n} optimizer group{'s' if n != 1 else ''}"
    if compiled is not None:
        return f"built: {type(compiled).__qualname__} with {n} optimizer group{'s' if n != 1 else ''}"
    return f"will build: one {target} optimizer group per group not frozen for good ({n})"


def cmd_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate SPEC for a target; with --model, resolve and show the plan (or emit code)."""
    from lrspec.tools.explain import plan_json, plan_table, spec_json, spec_table

    _check_target(args.target, "lrspec compile")
    if args.emit is not None and args.model is None:
        raise UsageError("lrspec compile: --emit python needs --model (the generated code names every parameter)")
    if args.model is None:
        spec = _load_spec(args.spec)
        if args.format == "json":
            text = _json_text(spec_json(spec, command="compile", spec=args.spec, target=args.target))
        else:
            text = f"{args.spec}: valid; target {args.target} (no --model: showing the spec's groups)\n\n{spec_table(spec)}\n"
        _write_output(text, args.output, args.force, out)
        return EXIT_OK
    spec, plan, source, compiled = _model_plan(args)
    if args.emit is not None:
        from lrspec.tools.emit import emit_python

        code = emit_python(plan, args.target, spec_path=args.spec, source=args.model)
        _write_output(code, args.output, args.force, out)
        if args.output not in (None, "-"):
            err.write(f"wrote {args.output} ({args.target}; entry point build(model))\n")
        return EXIT_OK
    if args.format == "json":
        text = _json_text(
            plan_json(plan, command="compile", spec=args.spec, target=args.target, model=args.model, source_kind=source.kind)
        )
    else:
        head = f"{args.spec} -> {args.target}, model {args.model} ({source.kind}, {len(plan.names)} parameters)"
        text = f"{head}\n\n{plan_table(plan)}\n\n{_built_line(args.target, plan, compiled)}\n"
    _write_output(text, args.output, args.force, out)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Learning rate against update step, one curve per resulting group."""
    from lrspec.tools import plotting

    spec = _load_spec(args.spec)
    if args.params is not None:
        curves = plotting.plan_curves(_resolve(spec, _read_params(args.params), args.spec), args.steps)
    else:
        curves = plotting.spec_curves(spec, args.steps)
    if args.output is not None:
        path = Path(args.output)
        if path.exists() and not args.force:
            raise UserError(args.output, "the file exists; use --force to overwrite it")
        plotting.save_plot(curves, args.output, log=args.log, title=args.spec)
        err.write(f"wrote {args.output} ({len(curves)} curve{'s' if len(curves) != 1 else ''}, {args.steps} steps)\n")
        return EXIT_OK
    if args.format == "json":
        out.write(_json_text(plotting.curves_json(curves, spec=args.spec)))
    else:
        out.write(plotting.sparkline_table(curves, log=args.log) + "\n")
    return EXIT_OK


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
        out.write(_json_text(data))
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
    NumPy reference (lrspec.verify); exit 1 when any target diverges or fails."""
    import importlib

    try:
        verify_mod = importlib.import_module("lrspec.tools.verify")
    except ImportError as exc:
        raise UserError("lrspec verify", f"not available in this installation ({exc})") from None
    targets = [t.strip() for t in args.targets.split(",") if t.strip()] if args.targets else None
    for t in targets or []:
        _check_target(t, "lrspec verify")
    spec = _load_spec(args.spec)
    params = _read_params(args.params)
    _resolve(spec, params, args.spec)  # resolution errors as file-located lines, before any framework import
    try:
        report = verify_mod.verify(spec, params, targets=targets, steps=args.steps)
    except LrSpecError as exc:
        raise UserError("lrspec verify", str(exc)) from None
    if args.format == "json":
        out.write(_json_text(report.to_dict()))
    else:
        out.write(str(verify_mod.format_report(report)).rstrip("\n") + "\n")
    return EXIT_OK if report.ok else EXIT_ERROR


# ------------------------------------------------------------------ parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``lrspec`` command (every subcommand)."""
    from lrspec import __version__

    parser = _Parser(
        prog="lrspec",
        description="Per-parameter learning rates, freezes and schedules as one spec file, "
        "compiled to PyTorch and TensorFlow with identical updates.",
        epilog="Exit codes: 0 ok, 1 invalid spec or other user error, 2 usage error. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"lrspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, fn: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=fn)
        return p

    def fmt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")

    def output(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("-o", "--output", metavar="FILE", help=f"write {what} to FILE instead of stdout")
        p.add_argument("--force", action="store_true", help="overwrite an existing -o FILE")

    p = add("validate", cmd_validate, "Check spec files; print every problem with file:line.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (.yaml, .yml, .json)")

    p = add("schema", cmd_schema, "Print the JSON Schema of the spec format.")
    output(p, "the schema")

    p = add("explain", cmd_explain, "Resolve a spec against a parameter list and show the plan.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--params", required=True, metavar="FILE", help="parameter list: 'name [shape]' lines, or .json")
    fmt(p)
    output(p, "the output")

    p = add("compile", cmd_compile, "Compile a spec for a target; with --model, show the plan or emit code.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--target", "-t", required=True, metavar="TARGET", help="torch, tf, tf-v1 (see 'lrspec targets')")
    p.add_argument(
        "--model", "-m", metavar="SOURCE",
        help="module:callable, .pt/.pth/.bin state_dict, .safetensors, .keras, .weights.h5, "
        "TF checkpoint prefix, or a .txt/.json parameter list",
    )
    fmt(p)
    p.add_argument("--emit", choices=["python"], help="write a self-contained Python module with build(model)")
    output(p, "the output (or the generated module)")

    p = add("plot", cmd_plot, "Plot lr against update step, one curve per resulting group.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--params", metavar="FILE", help="parameter list (default: one curve per spec group)")
    p.add_argument("--steps", type=_positive_int, default=1000, metavar="N", help="updates to plot (default: 1000)")
    p.add_argument("-o", "--output", metavar="FILE", help="write an image (png, svg, pdf; needs the 'plot' extra)")
    p.add_argument("--force", action="store_true", help="overwrite an existing -o FILE")
    p.add_argument("--log", action="store_true", help="logarithmic lr axis")
    fmt(p)

    p = add("targets", cmd_targets, "List the compilation targets and what to install for missing ones.")
    fmt(p)

    p = add("verify", cmd_verify, "Check that every target gives the same updates as the NumPy reference.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--params", required=True, metavar="FILE", help="parameter list with shapes")
    p.add_argument("--steps", type=_positive_int, default=50, metavar="N", help="updates to run (default: 50, as lrspec.verify)")
    p.add_argument("--targets", metavar="T1,T2", help="comma-separated targets (default: every installed one)")
    fmt(p)
    return parser


# ------------------------------------------------------------------ entry point


def _report(err: TextIO, where: str, what: str) -> None:
    for k, line in enumerate(what.splitlines() or [""]):
        line = line.strip()
        if line or k == 0:
            err.write(f"Error: {where}: {line}\n" if where else f"Error: {line}\n")


def run(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Run one command line; returns the exit code. Never raises for user errors."""
    from lrspec.tools.model_sources import SourceError
    from lrspec.tools.paramfile import ParamFileError

    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
        if getattr(args, "func", None) is None:
            if not argv:
                out.write(parser.format_help())
                return EXIT_USAGE
            raise UsageError("lrspec: missing command (see 'lrspec --help')")
        return int(args.func(args, out, err))
    except UsageError as exc:
        err.write(f"Error: {exc}\n")
        return EXIT_USAGE
    except SpecError as exc:
        for p in exc.problems:
            err.write(f"Error: {p.render()}\n")
        return EXIT_ERROR
    except ParamFileError as exc:
        for line in exc.problems:
            err.write(f"Error: {line}\n")
        return EXIT_ERROR
    except SourceError as exc:
        _report(err, exc.source, exc.message)
        return EXIT_ERROR
    except _MultiError as exc:
        for where, what in exc.problems:
            _report(err, where, what)
        return EXIT_ERROR
    except UserError as exc:
        _report(err, exc.where, exc.what)
        return EXIT_ERROR
    except LrSpecError as exc:
        _report(err, type(exc).__name__, str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("Error: interrupted\n")
        return 130


#: Lines TensorFlow's C++ runtime prints at import even with TF_CPP_MIN_LOG_LEVEL set (it
#: writes them before its logging is initialised). Only these exact lines are dropped.
_TF_IMPORT_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\..*)\r?\n?$"
)


@contextlib.contextmanager
def _without_tf_import_noise() -> Iterator[None]:
    """Route the process's stderr (fd 2) through a pipe whose reader forwards every line at
    once except :data:`_TF_IMPORT_NOISE`. A no-op when stderr is not a real file descriptor."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                if not _TF_IMPORT_NOISE.match(line):
                    os.write(saved, line)

    pump = threading.Thread(target=forward, name="lrspec-stderr", daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)  # closes the pipe's last write end: the reader sees EOF
        pump.join(timeout=5)
        os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: ``lrspec ...``. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's C++ info/warning lines would interleave with our output; the user's own
    # setting wins, and the two lines TF prints regardless are filtered from stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with _without_tf_import_noise():
            return run(args, sys.stdout, sys.stderr)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
