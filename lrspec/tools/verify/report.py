"""The results of :func:`lrspec.tools.verify.verify` and their plain-text table.

:class:`VerifyReport` holds one :class:`TargetResult` per target, each with one
:class:`GroupDivergence` per plan group; ``to_dict()`` gives plain JSON data (``lrspec verify
--format json``) and :func:`format_report` a table of at most 100 columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lrspec.plan import Plan
from lrspec.tools.render import printable

__all__ = ["GroupDivergence", "TargetResult", "VerifyReport", "format_report"]


@dataclass(frozen=True)
class GroupDivergence:
    """How far one target's parameters of one plan group got from the reference.

    ``max_abs``/``max_rel`` are maxima over all updates; ``first_step`` is the 0-based update
    ``t`` whose result first exceeded the tolerance (None: never). ``frozen`` is True for a
    permanently frozen group (checked bitwise).
    """

    group: str
    params: int
    max_abs: float
    max_rel: float
    max_moved: float
    first_step: int | None
    frozen: bool

    @property
    def ok(self) -> bool:
        """True when no update exceeded the tolerance."""
        return self.first_step is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``inf`` is written as the string ``"inf"``)."""
        return {
            "group": self.group,
            "params": self.params,
            "max_abs": _json_float(self.max_abs),
            "max_rel": _json_float(self.max_rel),
            "max_moved": _json_float(self.max_moved),
            "first_step": self.first_step,
            "frozen": self.frozen,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class TargetResult:
    """The outcome for one target: ``status`` is ``"ok"``, ``"diverged"`` (some group exceeded
    the tolerance), ``"error"`` (compiling or stepping raised; see ``message``) or
    ``"skipped"`` (lrspec cannot drive it; see ``message``)."""

    target: str
    status: str
    groups: tuple[GroupDivergence, ...] = ()
    message: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for ``"ok"`` (and ``"skipped"``, which compared nothing)."""
        return self.status in ("ok", "skipped")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "target": self.target,
            "status": self.status,
            "ok": self.ok,
            "message": self.message,
            "options": {k: _jsonable(v) for k, v in self.options.items()},
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`: one :class:`TargetResult` per target, in order."""

    targets: tuple[TargetResult, ...]
    steps: int
    seed: int
    tolerance: float
    plan: Plan
    notes: tuple[str, ...] = ()
    dtype: str = "float32"
    """The dtype of the run: parameters, gradients and every target's optimizer."""

    @property
    def ok(self) -> bool:
        """True when every target that was run agrees with the reference at every update."""
        return all(t.ok for t in self.targets) and any(t.status == "ok" for t in self.targets)

    def result(self, target: str) -> TargetResult:
        """The result of the target called ``target``."""
        for r in self.targets:
            if r.target == target:
                return r
        raise KeyError(f"no result for target {target!r}; targets: {', '.join(r.target for r in self.targets)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: ``{"ok", "steps", "seed", "dtype", "tolerance", "rounding", "family",
        "families", "plan_fingerprint", "notes", "targets": [...]}`` (``rounding``: half an ulp of
        the dtype, the per-update storage floor of the bound)."""
        return {
            "ok": self.ok,
            "steps": self.steps,
            "seed": self.seed,
            "dtype": self.dtype,
            "tolerance": self.tolerance,
            "rounding": _half_ulp(self.dtype),
            "family": self.plan.family,
            "families": list(getattr(self.plan, "families", ()) or (self.plan.family,)),
            "plan_fingerprint": self.plan.fingerprint,
            "notes": list(self.notes),
            "targets": [t.to_dict() for t in self.targets],
        }


def _half_ulp(dtype: str) -> float:
    return 2.0**-53 if dtype == "float64" else 2.0**-24


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else ("-inf" if x < 0 else "nan"))


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else repr(v)


WIDTH = 100


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.1e}"


def _cut(text: str, width: int) -> str:
    """``text`` shown safely (:func:`lrspec.tools.render.printable`) in at most ``width`` columns."""
    text = printable(text)
    return text if len(text) <= width else text[: width - 1] + "~"


def format_report(report: VerifyReport) -> str:
    """A plain-text table (at most 100 columns): one row per target and plan group with the
    largest absolute and relative divergence from the reference and the first divergent update."""
    families = "+".join(getattr(report.plan, "families", ()) or (report.plan.family,))
    head = (
        f"lrspec verify: {families}, {len(report.plan.names)} parameters, "
        f"{len(report.plan.groups)} groups, {report.steps} updates, seed {report.seed}, {report.dtype}"
    )
    bits = report.dtype[-2:]
    lines = [
        _cut(head, WIDTH),
        _cut(
            f"tolerance: {report.tolerance:g} x moved + k * 2^-{24 if bits == '32' else 53} * max|p| "
            f"({report.dtype} rounding) after update k, vs the reference",
            WIDTH,
        ),
    ]
    lines += [_cut(f"note: {n}", WIDTH) for n in report.notes]
    cols = f"{'target':<12} {'group':<30} {'params':>6} {'max abs':>9} {'max rel':>9} {'moved':>9} {'first bad':>9}  status"
    lines += ["", cols, "-" * len(cols)]
    for r in report.targets:
        label = r.target + ("*" if r.options else "")
        if not r.groups:
            lines.append(_cut(f"{_cut(label, 12):<12} {r.status}: {r.message or ''}", WIDTH))
            continue
        for g in r.groups:
            first = "-" if g.first_step is None else f"t={g.first_step}"
            status = ("ok" if g.ok else "DIVERGED") + (" (frozen)" if g.frozen else "")
            lines.append(
                _cut(
                    f"{_cut(label, 12):<12} {_cut(g.group, 30):<30} {g.params:>6} {_fmt(g.max_abs):>9} "
                    f"{_fmt(g.max_rel):>9} {_fmt(g.max_moved):>9} {first:>9}  {status}",
                    WIDTH,
                )
            )
    with_options = [r for r in report.targets if r.options]
    for r in with_options:
        opts = ", ".join(f"{k}={v!r}" for k, v in r.options.items())
        lines.append(_cut(f"* {r.target} compiled with {opts}", WIDTH))
    lines.append("")
    compared = [r for r in report.targets if r.status in ("ok", "diverged")]
    bad = [r.target for r in report.targets if not r.ok]
    if report.ok:
        lines.append(f"result: all {len(compared)} target(s) agree with the reference")
    else:
        lines.append(_cut(f"result: DIVERGED: {', '.join(bad) or 'no target was compared'}", WIDTH))
    return "\n".join(lines)
