"""Shared helpers of the tools/CLI hostile-input tests (tests/hostile/test_tools_*.py)."""

from __future__ import annotations

import contextlib
import io
import shlex
from collections.abc import Sequence

from lrspec.tools.cli import main

GOOD_SPEC = """version: 1
optimizer: {type: sgd, lr: 0.1, momentum: 0.9}
groups:
  - {name: body, params: ["body.*"], lr: 0.00001}
  - {name: head, params: ["head.*"], freeze: {until_step: 2}}
"""
GOOD_PARAMS = "body.w 3,2\nbody.b 2\nhead.w 2\n"


def run_cli(argv: str | Sequence[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one in-process ``lrspec`` command line."""
    args = shlex.split(argv) if isinstance(argv, str) else list(argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()
