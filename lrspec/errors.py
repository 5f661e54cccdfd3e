"""Exception hierarchy of lrspec.

Every error a user can cause derives from :class:`LrSpecError`. The subclasses carry
structured data (locations, messages) in addition to a readable ``str()``, so tools can
render them as they like and the CLI can print one clear line per problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in a spec.

    ``location`` is a dotted path into the spec (``groups[2].schedule.decay_steps``);
    ``file``/``line``/``column`` (1-based) are set when the spec was loaded from a file and
    the position is known.
    """

    location: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def render(self) -> str:
        """``file:line:col: location: message``, leaving out the parts that are unknown."""
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        loc = f"{self.location}: " if self.location else ""
        return f"{where}{loc}{self.message}"


def as_problems(problems: str | Problem | Sequence[Problem], file: str | None = None) -> list[Problem]:
    """A list of :class:`Problem` from a message, one problem or several. A message becomes one
    problem per non-empty line (a trailing ``:`` heading line is kept as its own problem)."""
    if isinstance(problems, Problem):
        return [problems]
    if isinstance(problems, str):
        lines = [ln.strip() for ln in problems.splitlines() if ln.strip()] or [problems]
        return [Problem("", ln, file=file) for ln in lines]
    return list(problems)


class LrSpecError(Exception):
    """Root of every error lrspec raises for bad user input.

    ``problems`` holds one or more :class:`Problem` (location + message, and the file and
    position where known); ``str()`` is a readable message. Subclasses say which stage found
    the problem. Construct with a message, a :class:`Problem` or a list of them; ``file``
    names the input file the problems are in, when they do not say so themselves.
    """

    def __init__(self, problems: str | Problem | Sequence[Problem] = "", *, file: str | None = None):
        self.problems: list[Problem] = as_problems(problems, file)
        self.file = file
        self._text = problems if isinstance(problems, str) and file is None else None
        super().__init__(self._message())

    def _message(self) -> str:
        """The readable message: the text given, else every problem rendered, one per line."""
        if self._text is not None:
            return self._text
        return "\n".join(p.render() for p in self.problems)


class SpecError(LrSpecError, ValueError):
    """The spec is invalid. ``problems`` lists every problem found, each with its location."""

    def _message(self) -> str:
        if not self.problems:
            return "invalid spec"
        if len(self.problems) == 1:
            return f"invalid spec: {self.problems[0].render()}"
        lines = [f"invalid spec ({len(self.problems)} problems):"]
        lines += [f"  {p.render()}" for p in self.problems]
        return "\n".join(lines)


class ResolveError(LrSpecError, ValueError):
    """The spec is valid but cannot be applied to the given parameters
    (a group matches nothing, unmatched parameters with ``unmatched: error``, tied parameters
    with conflicting settings, ...)."""


class TargetError(LrSpecError, ValueError):
    """A compilation target is unknown, not installed, or rejects the plan or the model."""


class CheckpointError(LrSpecError, ValueError):
    """Saved state (a scheduler or optimizer state) does not belong to this plan or is corrupt."""


class SourceError(LrSpecError, ValueError):
    """A model source (``--model SOURCE``: a model file, a checkpoint, a ``module:callable``
    reference) cannot be used. It holds one :class:`Problem` whose location is the SOURCE
    string; ``source`` and ``message`` are its two parts, ``str()`` is ``"SOURCE: message"``.
    Targets raise it from :meth:`lrspec.targets.Target.read_model_file`."""

    def __init__(self, source: str, message: str):
        self.source = source
        self.message = message
        super().__init__(Problem(source, message))


class ParamFileError(LrSpecError, ValueError):
    """A parameter list file cannot be read. ``problems`` holds one :class:`Problem` per
    problem, each with its ``file`` (and ``line`` where known), so ``render()`` gives
    ``file:line: message``."""
