"""What the plan views and the spec views share: the JSON format names, value formatting, the
optimizer line and the ``frozen`` column's text (conventions in :mod:`lrspec.tools.explain`)."""

from __future__ import annotations

from typing import Any

from lrspec.plan import Plan
from lrspec.spec.models import FAMILY_HYPERPARAMETERS, Spec
from lrspec.tools.render import fmt_float

__all__ = ["JSON_FORMAT_PLAN", "JSON_FORMAT_SPEC", "frozen_text", "json_value", "optimizer_line", "value_text"]

JSON_FORMAT_PLAN = "lrspec.plan/1"
JSON_FORMAT_SPEC = "lrspec.spec-summary/1"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return fmt_float(value)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(value_text(v) for v in value) + ")"
    return str(value)


def json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def frozen_text(frozen: bool, until: int | None) -> str:
    """``"yes"`` (permanently frozen), ``"until N"`` or ``"no"``."""
    if frozen:
        return "yes"
    if until is not None:
        return f"until {until}"
    return "no"


def optimizer_line(plan_or_spec: Plan | Spec) -> str:
    """``optimizer: adam  lr=0.001  weight_decay=0  betas=(0.9, 0.999)  eps=1e-08  amsgrad=false``."""
    opt = plan_or_spec.optimizer
    parts = [f"optimizer: {opt.type}", f"lr={value_text(opt.lr)}", f"weight_decay={value_text(opt.weight_decay)}"]
    parts += [f"{h}={value_text(getattr(opt, h))}" for h in FAMILY_HYPERPARAMETERS[opt.type]]
    return "  ".join(parts)
