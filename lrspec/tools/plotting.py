"""``lrspec plot``: learning rate against update step, one curve per resulting group.

* :func:`plan_curves`: one :class:`Curve` per plan group of a resolved plan.
* :func:`spec_curves`: without parameter names, one curve per spec group as if a parameter
  matched only that group (its lr/lr_mult, schedule and freeze over the optimizer's), plus
  ``default`` for parameters no group matches (unless ``unmatched`` is not ``train``). Layer
  decay needs parameter names and is not applied here.
* :func:`sparkline_table`: a compact text table (no dependencies); :func:`save_plot`: an image
  with matplotlib (the ``plot`` extra, :func:`make_figure`), freeze windows shaded, a log lr
  axis when the rates span more than 10x (:func:`choose_log`), every curve visible.

A curve's value at step t is the lr used at update t (0 while frozen).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lrspec import schedules
from lrspec.errors import LrSpecError
from lrspec.plan import Plan, PlanGroup
from lrspec.resolve.cascade import cascade, rules_of
from lrspec.spec.models import Spec
from lrspec.tools.render import fmt_float, render_table

__all__ = [
    "LOG_SPAN",
    "Curve",
    "PlotError",
    "choose_log",
    "curves_json",
    "make_figure",
    "plan_curves",
    "save_plot",
    "save_plot_to",
    "sparkline",
    "sparkline_table",
    "spec_curves",
]

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


Progress = Callable[[int, int], None]


def _curves(groups: Sequence[PlanGroup], steps: int, progress: Progress | None) -> list[Curve]:
    out = []
    for k, g in enumerate(groups):
        out.append(_curve(g, steps))
        if progress is not None:
            progress(k + 1, len(groups))
    return out


def plan_curves(plan: Plan, steps: int, progress: Progress | None = None) -> list[Curve]:
    """One curve per plan group, in plan order; ``progress(done, total)`` after each curve."""
    return _curves(plan.groups, steps, progress)


def spec_curves(spec: Spec, steps: int, progress: Progress | None = None) -> list[Curve]:
    """One curve per spec group (alone), plus ``default`` when unmatched parameters train.

    Each curve is the cascade (:func:`lrspec.resolve.cascade.cascade`) of a parameter matched
    by that group only (``default``: by none), without layer decay.
    """
    rules = rules_of(spec)
    entries: list[tuple[str, list[int]]] = [(g.name, [gi]) for gi, g in enumerate(spec.groups)]
    if spec.unmatched == "train" or not spec.groups:
        entries.append(("default", []))
    groups: list[PlanGroup] = []
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
            family=s.family,
        )
        groups.append(group)
    return _curves(groups, steps, progress)


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


def _mathtext_safe(text: str) -> str:
    """``text`` shown literally by matplotlib: a ``$`` would start mathtext, and a legend
    label starting with ``_`` would be left out of the legend (a zero-width space keeps it)."""
    text = text.replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def choose_log(curves: Sequence[Curve], log: bool | None = None) -> bool:
    """Whether the image uses a log lr axis: ``log`` when given, else True when the trained
    rates (every positive value of every curve) span more than :data:`LOG_SPAN` (max/min)."""
    if log is not None:
        return log
    positive = [v for c in curves for v in c.values if v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) > LOG_SPAN * min(positive)


#: ``lrspec plot`` switches to a log lr axis when the trained rates span more than this factor.
LOG_SPAN = 10.0

_DASHES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]


def _overlaps(a: Curve, a_start: int, b: Curve, b_start: int) -> bool:
    """True when the drawn part of one curve lies exactly on the other (it would hide it)."""
    start = max(a_start, b_start)
    return len(a.values) == len(b.values) and a.values[start:] == b.values[start:]


def make_figure(curves: Sequence[Curve], *, log: bool | None = None, title: str = "") -> Any:
    """The matplotlib figure of ``curves`` (see :func:`save_plot`); the caller closes it.

    Every curve stays visible: the lr axis is logarithmic when :func:`choose_log` says so;
    permanently frozen groups (lr 0, which a log axis cannot show) are dotted lines along the
    bottom edge of the axes, one above the other; a curve equal to an earlier one is drawn
    (over the steps both are drawn) with another dash pattern; freeze windows are shaded. Text is shown literally (no mathtext).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plotting needs matplotlib, which is not installed; install it with: pip install 'lrspec[plot]'") from None
    use_log = choose_log(curves, log)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cmap = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    drawn: list[tuple[Curve, int]] = []
    frozen_count = 0
    for k, c in enumerate(curves):
        color = cmap(k % cmap.N)
        name = _mathtext_safe(c.name)
        if c.frozen:
            y = 0.02 + 0.03 * frozen_count
            frozen_count += 1
            ax.plot(
                range(len(c.values)), [y] * len(c.values), color=color, linestyle=":", linewidth=2,
                transform=ax.get_xaxis_transform(), label=f"{name} (frozen: lr 0)",
            )
            continue
        if c.frozen_until is not None:
            ax.axvspan(0, min(c.frozen_until, len(c.values)), color=color, alpha=0.12)
        start = c.frozen_until or 0
        xs = list(range(len(c.values)))[start:]
        ys = list(c.values)[start:]
        if use_log:
            xs, ys = [x for x, y in zip(xs, ys) if y > 0], [y for y in ys if y > 0]
        under = [other.name for other, other_start in drawn if _overlaps(c, start, other, other_start)]
        repeat = len(under)
        drawn.append((c, start))
        label = name + (f" (frozen until {c.frozen_until})" if c.frozen_until else "")
        if under:
            label += f" (overlaps {_mathtext_safe(under[0]).lstrip(chr(0x200B))})"
        ax.plot(xs, ys, color=color, label=label, linestyle=_DASHES[repeat % len(_DASHES)], linewidth=1.5 + 0.5 * (repeat > 0))
    if use_log:
        ax.set_yscale("log")
    ax.set_xlabel("update step t")
    ax.set_ylabel("learning rate" + (" (log)" if use_log else ""))
    if title:
        ax.set_title(_mathtext_safe(title))
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def save_plot_to(figure: Any, file: Any, image_format: str | None = None) -> None:
    """Save ``figure`` to ``file`` (a name or a binary file object); :class:`PlotError` when it cannot."""
    try:
        figure.savefig(file, format=image_format)
    except (OSError, ValueError) as exc:
        raise PlotError(f"cannot write the image: {exc}") from None


def save_plot(
    curves: Sequence[Curve], path: Any, *, log: bool | None = None, title: str = "", image_format: str | None = None
) -> None:
    """Write the curves to an image (:func:`make_figure`) at ``path`` (a file name or a binary
    file object), in ``image_format`` (default: from the suffix). Raises :class:`PlotError` when
    matplotlib is missing or the image cannot be written."""
    fig = make_figure(curves, log=log, title=title)
    import matplotlib.pyplot as plt

    try:
        save_plot_to(fig, path, image_format)
    finally:
        plt.close(fig)
