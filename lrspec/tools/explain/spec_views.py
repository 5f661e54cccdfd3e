"""Views of an unresolved spec: what each spec group will do when no parameter names are known
(``lrspec compile`` without ``--model``): rows, the ``--format json`` document, the text table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrspec import schedules
from lrspec.resolve.cascade import group_lr, group_weight_decay
from lrspec.spec.models import FreezeUntil, Group, LayerDecay, Spec
from lrspec.tools.explain.common import JSON_FORMAT_SPEC, json_value, optimizer_line, value_text
from lrspec.tools.render import DEFAULT_WIDTH, fmt_float, render_table

__all__ = ["layer_entries_text", "spec_json", "spec_rows", "spec_table"]


def _group_lr(spec: Spec, g: Group) -> tuple[float | None, str]:
    """(absolute lr or None if inherited, how it is set); the value is the cascade's."""
    how = "lr" if g.lr is not None else f"lr_mult {fmt_float(g.lr_mult)}" if g.lr_mult is not None else "inherited"
    return group_lr(spec, g), how


def _freeze_text(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no (unfreeze)"
    if isinstance(value, FreezeUntil):
        return f"until {value.until_step}"
    return "-"


def _freeze_json(value: Any) -> Any:
    if isinstance(value, FreezeUntil):
        return {"until_step": value.until_step}
    return value


def spec_rows(spec: Spec) -> list[dict[str, Any]]:
    """What each spec group sets, in file order. ``lr``/``weight_decay``/``schedule`` are
    ``None`` when the group leaves them to earlier matching groups or the optimizer."""
    rows = []
    for g in spec.groups:
        lr, how = _group_lr(spec, g)
        rows.append(
            {
                "name": g.name,
                "params": list(g.params),
                "optional": g.optional,
                "lr": lr,
                "lr_set_by": how,
                "weight_decay": group_weight_decay(spec, g),
                "freeze": _freeze_json(g.freeze),
                "schedule": None if g.schedule is None else g.schedule.model_dump(mode="json"),
                "schedule_summary": None if g.schedule is None else schedules.describe(g.schedule),
                "hyperparameters": {k: json_value(v) for k, v in g.hyperparameters_set().items()},
                # the selectors and the family, only when the group uses them
                **({"ndim": list(g.ndims() or ())} if g.ndim is not None else {}),
                **({"modules": list(g.modules)} if g.modules is not None else {}),
                **(
                    {"optimizer": g.optimizer.model_dump(mode="json", exclude={"lr", "weight_decay"})}
                    if g.optimizer is not None
                    else {}
                ),
            }
        )
    return rows


def layer_entries_text(ld: LayerDecay) -> str:
    """The layer-decay entries in one line: ``a, [b c], (join) norm.*``; ``+ unmatched last``."""
    parts = []
    for patterns, join, _ in ld.entries():
        text = patterns[0] if len(patterns) == 1 else "[" + " ".join(patterns) + "]"
        parts.append(("(join) " if join else "") + text)
    tail = "; unmatched parameters form the last layer" if ld.unmatched == "last" else ""
    return ", ".join(parts) + tail


def spec_json(spec: Spec, /, **extra: Any) -> dict[str, Any]:
    """The stable ``--format json`` document of ``lrspec compile`` without ``--model``."""
    return {
        "format": JSON_FORMAT_SPEC,
        **extra,
        "optimizer": spec.optimizer.model_dump(mode="json"),
        "schedule": spec.schedule.model_dump(mode="json"),
        "schedule_summary": schedules.describe(spec.schedule),
        "unmatched": spec.unmatched,
        "layer_decay": None if spec.layer_decay is None else spec.layer_decay.model_dump(mode="json"),
        "groups": spec_rows(spec),
    }


def spec_table(spec: Spec, *, width: int = DEFAULT_WIDTH) -> str:
    """Per spec group: patterns, lr, weight decay, schedule summary, freeze (file order)."""
    parts = [
        optimizer_line(spec),
        f"default schedule: {schedules.describe(spec.schedule)}",
        f"unmatched: {spec.unmatched}",
    ]
    if spec.layer_decay is not None:
        ld = spec.layer_decay
        parts.append(f"layer decay: rate {fmt_float(ld.rate)} over layers {layer_entries_text(ld)} (input side first)")
    headers = ["group", "patterns", "lr", "wd", "schedule", "freeze", "other"]
    rows = []
    for g, r in zip(spec.groups, spec_rows(spec)):
        other = [f"{k}={value_text(v)}" for k, v in r["hyperparameters"].items()]
        if g.optimizer is not None:
            node = g.optimizer.model_dump(mode="json", exclude_unset=True)  # the keys the file gives
            other.insert(
                0,
                "optimizer=" + node["type"] + "".join(f" {k}={value_text(v)}" for k, v in node.items() if k != "type"),
            )
        selectors = ([f"ndim={','.join(map(str, r['ndim']))}"] if "ndim" in r else []) + (
            [f"modules={','.join(r['modules'])}"] if "modules" in r else []
        )
        lr = "-" if r["lr"] is None else fmt_float(r["lr"])
        if r["lr_set_by"].startswith("lr_mult"):
            lr += f" ({r['lr_set_by']})"
        rows.append(
            [
                r["name"] + (" (optional)" if r["optional"] else ""),
                " ".join(r["params"] + selectors),
                lr,
                "-" if r["weight_decay"] is None else fmt_float(r["weight_decay"]),
                r["schedule_summary"] or "-",
                _freeze_text(_freeze_from_json(r["freeze"])),
                " ".join(other) or "-",
            ]
        )
    parts += [
        "",
        f"groups ({len(rows)}, applied in file order; '-' = inherited)",
        render_table(headers, rows, width=width),
    ]
    return "\n".join(parts)


def _freeze_from_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FreezeUntil(until_step=int(value["until_step"]))
    return value
