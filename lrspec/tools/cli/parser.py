"""The argparse parser of the ``lrspec`` command: every subcommand and its options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from lrspec.tools.cli.compile_command import cmd_compile
from lrspec.tools.cli.errors import UsageError
from lrspec.tools.cli.import_command import TOOLS, cmd_import
from lrspec.tools.cli.spec_commands import cmd_explain, cmd_plot, cmd_schema, cmd_validate
from lrspec.tools.cli.target_commands import cmd_targets, cmd_verify

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


#: The largest ``plot --steps`` (points per curve) and ``verify --steps`` (docs/cli.md).
MAX_PLOT_STEPS = 10**6
MAX_VERIFY_STEPS = 10**5


def _positive_int(text: str) -> int:
    try:
        value = int(text) if len(text) <= 20 else -1
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:40]!r}")
    return value


def _steps(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"at most {limit} updates, got {value}")
        return value

    parse.__name__ = "steps"
    return parse


def _fmt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "json"], default="table", help="output format (default: table)")


def _output(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help=f"write {what} to FILE instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing -o FILE")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``lrspec`` command (every subcommand); a command's function
    is ``args.func(args, out, err) -> exit code``."""
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

    p = add("validate", cmd_validate, "Check spec files; print every problem with file:line.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (.yaml, .yml, .json)")

    p = add("schema", cmd_schema, "Print the JSON Schema of the spec format.")
    _output(p, "the schema")

    p = add("explain", cmd_explain, "Resolve a spec against a parameter list and show the plan.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--params", required=True, metavar="FILE", help="parameter list: 'name [shape]' lines, or .json")
    _fmt(p)
    _output(p, "the output")

    p = add("compile", cmd_compile, "Compile a spec for a target; with --model, show the plan or emit code.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--target", "-t", required=True, metavar="TARGET", help="torch, tf, tf-v1 (see 'lrspec targets')")
    p.add_argument(
        "--model", "-m", metavar="SOURCE",
        help="module:callable, a model file the target reads (.pt/.pth/.bin state_dict, .safetensors, .keras, "
        ".weights.h5, TF checkpoint prefix), or a .txt/.json parameter list",
    )
    _fmt(p)
    p.add_argument("--emit", choices=["python"], help="write a self-contained Python module with build(model)")
    _output(p, "the output (or the generated module)")

    p = add("plot", cmd_plot, "Plot lr against update step, one curve per resulting group.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--params", metavar="FILE", help="parameter list (default: one curve per spec group)")
    p.add_argument(
        "--steps", type=_steps(MAX_PLOT_STEPS), default=1000, metavar="N",
        help=f"updates to plot (default: 1000, at most {MAX_PLOT_STEPS})",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE",
        help="write an image: FILE ends in .png, .svg or .pdf (the format; needs the 'plot' extra)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing -o FILE")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument(
        "--log", action="store_const", const=True, default=None, dest="log",
        help="logarithmic lr axis (default for images: when the rates span more than 10x)",
    )
    scale.add_argument("--linear", action="store_const", const=False, dest="log", help="linear lr axis")
    _fmt(p)

    p = add("targets", cmd_targets, "List the compilation targets and what to install for missing ones.")
    _fmt(p)

    p = add("verify", cmd_verify, "Check that every target gives the same updates as the NumPy reference.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--params", required=True, metavar="FILE", help="parameter list with shapes")
    p.add_argument(
        "--steps", type=_steps(MAX_VERIFY_STEPS), default=50, metavar="N",
        help=f"updates to run (default: 50, as lrspec.verify; at most {MAX_VERIFY_STEPS})",
    )
    p.add_argument("--targets", metavar="T1,T2", help="comma-separated targets (default: every installed one)")
    p.add_argument(
        "--dtype", choices=["float32", "float64"], default="float32",
        help="parameters, gradients and optimizers in this dtype (default: float32; float64 proves the update "
        "rules equal to 1e-10 relative)",
    )
    _fmt(p)

    p = add("import", cmd_import, "Import an MMEngine, timm, HF Trainer or Detectron2 recipe as a spec for a model.")
    p.add_argument("tool", choices=TOOLS, metavar="TOOL", help=f"the recipe's tool: {', '.join(TOOLS)}")
    p.add_argument(
        "file", metavar="FILE",
        help="mmengine: config .py (or a .json/.yaml dump); timm: args.yaml; hf: TrainingArguments .json; "
        "detectron2: config .yaml",
    )
    p.add_argument("--model", "-m", required=True, metavar="SOURCE", help="module:callable building the model")
    p.add_argument(
        "--iters-per-epoch", type=_positive_int, metavar="N",
        help="mmengine: iterations (optimizer updates) per epoch, for epoch-based schedulers",
    )
    p.add_argument(
        "--steps-per-epoch", type=_positive_int, metavar="N",
        help="timm, hf: optimizer updates per epoch (timm's epoch-stepped schedules; hf without max_steps)",
    )
    _output(p, "the spec")
    return parser
