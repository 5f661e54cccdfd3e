"""How the command line reports errors: the one place an exception becomes ``Error: <where>: <what>``.

Every user error is an :class:`lrspec.LrSpecError` whose :attr:`~lrspec.LrSpecError.problems`
say where and what (:meth:`lrspec.errors.Problem.render`). A command names the default
*where* for problems that carry no file of their own by running the code inside
:func:`located` (the spec path for a :class:`lrspec.ResolveError`, ``--target X`` for a
:class:`lrspec.TargetError`); :func:`error_lines` renders an error into lines:

* a problem with a file: ``Error: file:line:col: location: message``;
* a problem without a file, inside :func:`located`: ``Error: <where>: location: message``;
* otherwise ``Error: location: message``, or ``Error: <ErrorClass>: message`` when the
  problem has no location either (the command line always names a *where*: the command,
  ``lrspec plot``, so users never see a class name).

A message that already starts with its *where* (``lrspec verify: ...``) does not repeat it.
Every line goes through :func:`lrspec.tools.render.printable`: control characters in names
(terminal escape sequences) are printed escaped.

One line per problem (a message spanning several lines gives one line each, with the same
*where*); a first problem that only heads a list (``cannot resolve the spec:``) is left out.
Usage errors (:class:`UsageError`, exit code 2) are one ``Error: <message>`` line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from lrspec.errors import LrSpecError, Problem
from lrspec.tools.render import printable

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "Located", "UsageError", "UserError", "error_lines", "located"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A command line that cannot be parsed (exit code 2)."""


class UserError(LrSpecError):
    """A user error found by the command line itself (an existing output file, ...): one
    problem located at ``where`` (exit code 1)."""

    def __init__(self, where: str, what: str):
        self.where = where
        self.what = what
        super().__init__(Problem(where, what))


class Located(Exception):
    """``error`` was raised inside :func:`located`: its problems without a file are at ``where``."""

    def __init__(self, error: LrSpecError, where: str):
        self.error = error
        self.where = where
        super().__init__(f"{where}: {error}")


@contextlib.contextmanager
def located(where: str, *types: type[LrSpecError]) -> Iterator[None]:
    """Report errors of ``types`` (default: every :class:`lrspec.LrSpecError`) raised inside
    at ``where`` when their problems do not name a file. The innermost :func:`located` wins."""
    try:
        yield
    except Located:
        raise
    except LrSpecError as exc:
        if types and not isinstance(exc, types):
            raise
        raise Located(exc, where) from exc


def _is_heading(problem: Problem) -> bool:
    return problem.file is None and not problem.location and problem.message.rstrip().endswith(":")


def error_lines(error: LrSpecError, where: str | None = None, *, default: str | None = None) -> list[str]:
    """The ``Error: ...`` lines of ``error`` (see the module docstring); ``where`` is the
    location of problems without a file; ``default`` (the command, ``lrspec plot``) that of
    problems with neither a file nor a location, instead of the error's class name."""
    problems = list(error.problems) or [Problem("", str(error) or type(error).__name__)]
    if len(problems) > 1 and _is_heading(problems[0]):
        problems = problems[1:]
    lines: list[str] = []
    for problem in problems:
        messages = [m.strip() for m in problem.message.splitlines() if m.strip()] or [problem.message]
        for message in messages:
            p = replace(problem, message=message)
            text = p.render()
            if p.file is None:
                fallback = default if default is not None else type(error).__name__
                prefix = where if where is not None else None if p.location else fallback
                if prefix and not (text == prefix or text.startswith(prefix + ": ")):
                    text = f"{prefix}: {text}"
            lines.append(f"Error: {printable(text)}")
    return lines
