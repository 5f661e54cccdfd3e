"""``lrspec plot``: learning rate against update step, one curve per resulting group.

* :func:`plan_curves`: one :class:`Curve` per plan group of a resolved plan.
* :func:`spec_curves`: without parameter names, one curve per spec group as if a parameter
  matched only that group (its lr/lr_mult, schedule and freeze over the optimizer's), plus
  ``default`` for parameters no group matches (unless ``unmatched`` is not ``train``). Layer
  decay needs parameter names and is not applied here.
* :func:`sparkline_table`: a compact text table (no dependencies); :func:`save_plot`: an image
  with matplotlib (the ``plot`` extra), freeze windows shaded.

A curve's value at step t is the lr used at update t (0 while frozen).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lrspec import schedules
from lrspec.errors import LrSpecError
from lrspec.plan import Plan, PlanGroup
from lrspec.resolve.cascade import cascade, rules_of
from lrspec.spec.models import Spec
from lrspec.tools.render import fmt_float, render_table

__all__ = ["Curve", "PlotError", "curves_json", "plan_curves", "save_plot", "sparkline", "sparkline_table", "spec_curves"]

_BARS = "▁▂▃▄▅▆▇█"


class PlotError(LrSpecError, ValueError):
    """The plot cannot be made (e.g. matplotlib is not installed)."""


@dataclass(frozen=True)
class Curve:
    """lr of one group at steps 0 .. len(values) - 1; ``frozen`` is permanent, ``frozen_until``
    the first trained update."""

    name: str
    values: tuple[float, ...]
    frozen: bool = False
    frozen_until: int | None = None
    schedule: str = ""


def _curve(g: PlanGroup, steps: int) -> Curve:
    """The curve of one group: ``g.lr_at(t)`` for t = 0 .. steps - 1."""
    label = "frozen" if g.frozen else schedules.describe(g.schedule)
    return Curve(g.name, tuple(g.lr_at(t) for t in range(steps)), g.frozen, g.frozen_until, label)


def plan_curves(plan: Plan, steps: int) -> list[Curve]:
    """One curve per plan group, in plan order."""
    return [_curve(g, steps) for g in plan.groups]


def spec_curves(spec: Spec, steps: int) -> list[Curve]:
    """One curve per spec group (alone), plus ``default`` when unmatched parameters train.

    Each curve is the cascade (:func:`lrspec.resolve.cascade.cascade`) of a parameter matched
    by that group only (``default``: by none), without layer decay.
    """
    rules = rules_of(spec)
    entries: list[tuple[str, list[int]]] = [(g.name, [gi]) for gi, g in enumerate(spec.groups)]
    if spec.unmatched == "train" or not spec.groups:
        entries.append(("default", []))
    out: list[Curve] = []
    for name, gis in entries:
        s = cascade(spec, rules, gis, check=False)
        group = PlanGroup(
            name=name,
            params=(),
            sources=s.names,
            lr=s.lr,
            weight_decay=s.weight_decay,
            hyperparameters=s.hyperparameters,
            schedule=s.schedule,
            frozen=s.frozen,
            frozen_until=s.frozen_until,
        )
        out.append(_curve(group, steps))
    return out


def sparkline(values: Sequence[float], width: int = 40, *, log: bool = False) -> str:
    """``values`` sampled at ``width`` evenly spaced steps as bar characters, scaled between
    the curve's min and max (a space where the value is 0, e.g. while frozen)."""
    if not values:
        return ""
    n = min(width, len(values))
    idx = [round(k * (len(values) - 1) / max(n - 1, 1)) for k in range(n)]
    sample = [values[i] for i in idx]

    def f(v: float) -> float:
        return math.log10(v) if log else v

    positive = [f(v) for v in sample if v > 0]
    if not positive:
        return " " * n
    lo, hi = min(positive), max(positive)
    chars = []
    for v in sample:
        if v <= 0:
            chars.append(" ")
        elif hi == lo:
            chars.append(_BARS[-1])
        else:
            chars.append(_BARS[min(int((f(v) - lo) / (hi - lo) * len(_BARS)), len(_BARS) - 1)])
    return "".join(chars)


def sparkline_table(curves: Sequence[Curve], *, log: bool = False, width: int = 100) -> str:
    """group, lr at the first and last step, min/max over the trained steps, and a sparkline."""
    steps = len(curves[0].values) if curves else 0
    rows = []
    for c in curves:
        trained = [v for v in c.values if v > 0]
        rows.append(
            [
                c.name,
                fmt_float(c.values[0]) if c.values else "-",
                fmt_float(c.values[-1]) if c.values else "-",
                fmt_float(min(trained)) if trained else "-",
                fmt_float(max(trained)) if trained else "-",
                "frozen" if c.frozen else sparkline(c.values, 32, log=log),
            ]
        )
    headers = ["group", "lr@0", f"lr@{max(steps - 1, 0)}", "min", "max", f"0 .. {max(steps - 1, 0)}" + (" (log)" if log else "")]
    return render_table(headers, rows, width=width, align=["l", "r", "r", "r", "r", "l"])


def curves_json(curves: Sequence[Curve], **extra: Any) -> dict[str, Any]:
    """``{"format": "lrspec.curves/1", ..., "curves": [{"name", "frozen", "frozen_until", "schedule", "lr": [...]}]}``."""
    return {
        "format": "lrspec.curves/1",
        **extra,
        "steps": len(curves[0].values) if curves else 0,
        "curves": [
            {"name": c.name, "frozen": c.frozen, "frozen_until": c.frozen_until, "schedule": c.schedule, "lr": list(c.values)}
            for c in curves
        ],
    }


def save_plot(curves: Sequence[Curve], path: str, *, log: bool = False, title: str = "") -> None:
    """Write the curves to an image (format from the suffix) with matplotlib; freeze windows
    are shaded. Raises :class:`PlotError` when matplotlib is missing or the file cannot be written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plotting needs matplotlib, which is not installed; install it with: pip install 'lrspec[plot]'") from None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cmap = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    try:
        for k, c in enumerate(curves):
            color = cmap(k % cmap.N)
            steps = range(len(c.values))
            if c.frozen:
                ax.plot([], [], color=color, linestyle=":", label=f"{c.name} (frozen)")
                continue
            if c.frozen_until is not None:
                ax.axvspan(0, min(c.frozen_until, len(c.values)), color=color, alpha=0.12)
            start = c.frozen_until or 0
            xs = list(steps)[start:]
            ys = list(c.values)[start:]
            label = c.name + (f" (frozen until {c.frozen_until})" if c.frozen_until else "")
            ax.plot(xs, ys, color=color, label=label)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("update step t")
        ax.set_ylabel("learning rate")
        if title:
            ax.set_title(title)
        ax.legend(fontsize="small")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        try:
            fig.savefig(path)
        except (OSError, ValueError) as exc:
            raise PlotError(f"{path}: cannot write the image: {exc}") from None
    finally:
        plt.close(fig)
