"""The ``lrspec`` command line (also ``python -m lrspec``): a thin shell over the library.

Commands: ``validate``, ``schema``, ``explain``, ``plot`` (:mod:`.spec_commands`),
``compile`` (:mod:`.compile_command`), ``targets``, ``verify`` (:mod:`.target_commands`),
``import`` (:mod:`.import_command`);
docs/cli.md. Human output is a deterministic plain-text table that fits 100 columns;
``--format json`` prints a stable, documented document built from the same data.

Exit codes: 0 ok; 1 a user error (invalid spec, resolution error, missing file, failing model
source, framework not installed, diverging ``verify``); 2 a usage error (unknown command,
option or target). Every error is printed as ``Error: <where>: <what>`` on stderr, one line
per problem, never a traceback (:mod:`.errors` is the one place that renders them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from lrspec.errors import LrSpecError
from lrspec.tools.cli.common import SafeStdout, StdoutError
from lrspec.tools.cli.errors import EXIT_ERROR, EXIT_USAGE, Located, UsageError, UserError, error_lines
from lrspec.tools.cli.parser import build_parser
from lrspec.tools.cli.stderr import without_tf_import_noise
from lrspec.tools.render import printable

__all__ = ["UsageError", "UserError", "build_parser", "main", "run"]

#: Kept under its former name (tests and callers use it).
_without_tf_import_noise = without_tf_import_noise


def run(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Run one command line; returns the exit code. Never raises for user errors.

    ``out`` is wrapped in :class:`~lrspec.tools.cli.common.SafeStdout` (a failing stdout is
    one error line); an error without a location of its own is located at the command
    (``lrspec plot``)."""
    parser = build_parser()
    where = "lrspec"
    safe_out: Any = out if isinstance(out, SafeStdout) else SafeStdout(out)
    try:
        args = parser.parse_args(list(argv))
        if getattr(args, "func", None) is None:
            if not argv:
                safe_out.write(parser.format_help())
                return EXIT_USAGE
            raise UsageError("lrspec: missing command (see 'lrspec --help')")
        where = f"lrspec {args.command}"
        code = int(args.func(args, safe_out, err))
        safe_out.flush()
        return code
    except UsageError as exc:
        err.write(f"Error: {printable(str(exc))}\n")
        return EXIT_USAGE
    except Located as exc:
        err.writelines(line + "\n" for line in error_lines(exc.error, exc.where))
        return EXIT_ERROR
    except StdoutError as exc:
        err.writelines(line + "\n" for line in error_lines(exc))
        _silence_stdout()
        return EXIT_ERROR
    except LrSpecError as exc:
        err.writelines(line + "\n" for line in error_lines(exc, default=where))
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("Error: interrupted\n")
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: ``lrspec ...``. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's C++ info/warning lines would interleave with our output; the user's own
    # setting wins, and the two lines TF prints regardless are filtered from stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with without_tf_import_noise():
            return run(args, sys.stdout, sys.stderr)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's final flush of what stdout still buffers
    cannot fail again (no "Exception ignored" message at exit)."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)
