"""Views of a resolved :class:`~lrspec.plan.Plan`: per-parameter and per-group rows, the
``--format json`` document and the text table (conventions in :mod:`lrspec.tools.explain`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lrspec import schedules
from lrspec.plan import Plan, PlanGroup
from lrspec.spec.families import FAMILY_DEFAULTS
from lrspec.tools.explain.common import JSON_FORMAT_PLAN, frozen_text, json_value, optimizer_line, value_text
from lrspec.tools.render import DEFAULT_WIDTH, fmt_float, natural_width, render_table

__all__ = [
    "families_line",
    "group_rows",
    "iter_group_rows",
    "iter_param_rows",
    "param_rows",
    "plan_document",
    "plan_json",
    "plan_table",
]


def _hyper_diff(plan: Plan, group: PlanGroup) -> str:
    """Family hyperparameters of ``group`` that differ from the optimizer's (for a group of
    another family: from that family's torch defaults), as ``k=v`` text."""
    opt = plan.optimizer
    if (group.family or opt.type) == opt.type:
        base = {k: getattr(opt, k) for k in group.hyperparameters}
    else:
        base = FAMILY_DEFAULTS[group.family]
    diff = [
        f"{k}={value_text(v)}" for k, v in group.hyperparameters.items() if json_value(v) != json_value(base.get(k))
    ]
    return " ".join(diff) if diff else "-"


def families_line(plan: Plan) -> str | None:
    """``families: muon (1 group), adamw (3 groups)`` when the plan mixes families, else None.
    Hyperparameters of a group of another family than the optimizer's are shown as the
    differences from that family's torch defaults."""
    if not plan.mixed_families:
        return None
    counts: dict[str, int] = {}
    for g in plan.groups:
        counts[g.family or plan.family] = counts.get(g.family or plan.family, 0) + 1
    parts = [f"{f} ({n} group{'s' if n != 1 else ''})" for f, n in counts.items()]
    return "families: " + ", ".join(parts)


def param_rows(plan: Plan) -> list[dict[str, Any]]:
    """One dict per parameter, in plan order: name, shape, group (plan group), matched (spec
    groups, file order), layer, lr_at_0, weight_decay, frozen, frozen_until, schedule (summary)."""
    return list(iter_param_rows(plan))


def iter_param_rows(plan: Plan) -> Iterator[dict[str, Any]]:
    """The rows of :func:`param_rows`, one at a time."""
    summaries: dict[int, str] = {}
    mixed = plan.mixed_families
    for name in plan.names:
        info = plan.param(name)
        g = info.group
        summary = summaries.get(id(g))
        if summary is None:
            summary = summaries[id(g)] = schedules.describe(g.schedule)
        yield (
            {
                "name": name,
                "shape": None if info.shape is None else list(info.shape),
                "group": g.name,
                "matched": list(info.matched),
                "layer": info.layer,
                "lr_at_0": plan.lr(name, 0),
                "weight_decay": g.weight_decay,
                "frozen": g.frozen,
                "frozen_until": g.frozen_until,
                "schedule": summary,
                # only in plans that mix families, so that other plans' documents stay as they were
                **({"family": g.family} if mixed else {}),
                **({"module": info.module.to_dict()} if info.module is not None else {}),
            }
        )


def group_rows(plan: Plan) -> list[dict[str, Any]]:
    """One dict per merged plan group, in plan order (first appearance of its parameters)."""
    return list(iter_group_rows(plan))


def iter_group_rows(plan: Plan) -> Iterator[dict[str, Any]]:
    """The rows of :func:`group_rows`, one at a time (``family`` only when the plan mixes families)."""
    mixed = plan.mixed_families
    for g in plan.groups:
        yield (
            {
                "name": g.name,
                "params": list(g.params),
                "num_params": len(g.params),
                "sources": list(g.sources),
                "lr": g.lr,
                "lr_at_0": g.lr_at(0),
                "weight_decay": g.weight_decay,
                "hyperparameters": {k: json_value(v) for k, v in g.hyperparameters.items()},
                "schedule": g.schedule.model_dump(mode="json"),
                "schedule_summary": schedules.describe(g.schedule),
                "frozen": g.frozen,
                "frozen_until": g.frozen_until,
                "layer": g.layer,
                **({"freeze_statistics": True} if g.freeze_statistics else {}),
                **({"family": g.family} if mixed else {}),
            }
        )


def plan_json(plan: Plan, /, **extra: Any) -> dict[str, Any]:
    """The stable ``--format json`` document of a plan (see docs/cli.md); ``extra`` keys
    (e.g. ``spec``, ``target``, ``source``) are added at the top level."""
    doc = plan_document(plan, **extra)
    doc["params"] = list(doc["params"])
    doc["groups"] = list(doc["groups"])
    doc["optimizer_groups"] = list(doc["optimizer_groups"])
    return doc


def plan_document(plan: Plan, /, **extra: Any) -> dict[str, Any]:
    """:func:`plan_json` with ``params``, ``groups`` and ``optimizer_groups`` as iterators
    (one row at a time), for writers that stream (``lrspec.tools.cli.common.json_chunks``):
    a plan of many parameters is never held twice, as rows and as text."""
    opt = plan.optimizer.model_dump(mode="json")
    return {
        "format": JSON_FORMAT_PLAN,
        **extra,
        "optimizer": opt,
        "params": iter_param_rows(plan),
        "groups": iter_group_rows(plan),
        "optimizer_groups": (g.name for g in plan.trainable_groups),
        **({"families": list(plan.families)} if plan.mixed_families else {}),
        "layers": list(plan.layer_names),
        "fingerprint": plan.fingerprint,
    }


def _shape_text(shape: list[int] | None) -> str:
    return "-" if shape is None else "x".join(str(d) for d in shape) or "scalar"


def _same_schedule(plan: Plan) -> str | None:
    """The schedule summary shared by every trainable group, or None when they differ."""
    summaries = {schedules.describe(g.schedule) for g in plan.trainable_groups}
    return summaries.pop() if len(summaries) == 1 else None


def _param_table(plan: Plan, rows: list[dict[str, Any]], width: int, with_schedule: bool) -> str:
    has_shape = any(r["shape"] is not None for r in rows)
    headers = ["parameter"] + (["shape"] if has_shape else []) + ["matched", "lr@0", "wd", "frozen", "group"]
    table = []
    for r in rows:
        cells = [r["name"]]
        if has_shape:
            cells.append(_shape_text(r["shape"]))
        cells += [
            ", ".join(r["matched"]) or "-",
            fmt_float(r["lr_at_0"]),
            fmt_float(r["weight_decay"]),
            frozen_text(r["frozen"], r["frozen_until"]),
            r["group"],
        ]
        table.append(cells)
    if with_schedule:
        wide_headers = [*headers, "schedule"]
        wide = [[*cells, r["schedule"]] for cells, r in zip(table, rows)]
        if natural_width(wide_headers, wide) <= width:
            headers, table = wide_headers, wide
    align = ["r" if h in ("lr@0", "wd") else "l" for h in headers]
    return render_table(headers, table, width=width, align=align)


def plan_table(plan: Plan, *, width: int = DEFAULT_WIDTH, params: bool = True) -> str:
    """The plan as text: optimizer line, the parameter table (unless ``params=False``), then
    the merged groups. Deterministic; every line fits in ``width`` columns.

    The schedule is printed once when every trained group shares it; otherwise it is a
    column of the groups table and, when it fits, of the parameter table too.
    """
    parts = [optimizer_line(plan)]
    families = families_line(plan)
    if families is not None:
        parts.append(families)
    shared = _same_schedule(plan)
    if shared is not None:
        parts.append(f"schedule: {shared} (every trained group)")
    if params:
        rows = param_rows(plan)
        parts += ["", f"parameters ({len(rows)})", _param_table(plan, rows, width, shared is None)]
    parts += [
        "",
        f"groups ({len(plan.groups)}; optimizer groups: the {len(plan.trainable_groups)} not frozen for good)",
    ]
    parts.append(_groups_table(plan, width, shared is None))
    if plan.layer_names:
        parts += ["", "layers (input side first): " + ", ".join(plan.layer_names)]
    return "\n".join(parts)


def _groups_table(plan: Plan, width: int, with_schedule: bool = True) -> str:
    """Merged groups. ``from`` (the spec groups) is shown only when a group's name does not
    already spell it out; ``other`` (hyperparameters that differ from the optimizer's) only
    when some group has one."""
    headers = ["group", "params", "from", "family", "lr", "lr@0", "wd", "frozen", "schedule", "other"]
    align = ["l", "r", "l", "l", "r", "r", "r", "l", "l", "l"]
    rows = []
    for g in plan.groups:
        rows.append(
            [
                g.name,
                str(len(g.params)),
                ", ".join(g.sources) or "(unmatched)",
                g.family or plan.family,
                fmt_float(g.lr),
                fmt_float(g.lr_at(0)),
                fmt_float(g.weight_decay),
                frozen_text(g.frozen, g.frozen_until) + (" +stats" if g.freeze_statistics else ""),
                schedules.describe(g.schedule),
                _hyper_diff(plan, g),
            ]
        )
    keep = [True] * len(headers)
    keep[2] = any(g.name != ("+".join(g.sources) or "default") for g in plan.groups)
    keep[3] = plan.mixed_families
    keep[8] = with_schedule
    keep[9] = any(r[9] != "-" for r in rows)
    headers = [h for h, k in zip(headers, keep) if k]
    align = [a for a, k in zip(align, keep) if k]
    rows = [[c for c, k in zip(r, keep) if k] for r in rows]
    return render_table(headers, rows, width=width, align=align)
