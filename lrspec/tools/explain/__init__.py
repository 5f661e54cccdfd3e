"""Human and machine views of a resolved :class:`~lrspec.plan.Plan` and of an unresolved spec.

Used by ``lrspec explain``, ``lrspec compile`` and the adapters' ``describe()``. Modules:
:mod:`~lrspec.tools.explain.plan_views` (plans), :mod:`~lrspec.tools.explain.spec_views`
(unresolved specs), :mod:`~lrspec.tools.explain.common` (what both use).

* :func:`plan_table` -> text: an optimizer line, one row per parameter (plan order: the
  order the parameters were given in), then one row per merged plan group.
* :func:`plan_json` -> the stable JSON document of ``--format json`` (docs/cli.md).
* :func:`spec_table` / :func:`spec_json`: what each spec group will do when no parameter
  names are known (``lrspec compile`` without ``--model``).

Conventions in every view: ``lr@0`` is the lr the parameter gets at update t = 0
(``plan.lr(name, 0)``: 0 while frozen); ``lr`` of a group is its rate before the schedule
(including ``lr_mult`` and layer decay); ``frozen`` is ``no``, ``yes`` (never trained) or
``until N`` (trained from update N on).
"""

from __future__ import annotations

from lrspec.tools.explain.common import JSON_FORMAT_PLAN, JSON_FORMAT_SPEC, frozen_text, optimizer_line
from lrspec.tools.explain.plan_views import (
    families_line,
    group_rows,
    iter_group_rows,
    iter_param_rows,
    param_rows,
    plan_document,
    plan_json,
    plan_table,
)
from lrspec.tools.explain.spec_views import layer_entries_text, spec_json, spec_rows, spec_table

__all__ = [
    "JSON_FORMAT_PLAN",
    "JSON_FORMAT_SPEC",
    "families_line",
    "frozen_text",
    "group_rows",
    "iter_group_rows",
    "iter_param_rows",
    "layer_entries_text",
    "optimizer_line",
    "param_rows",
    "plan_document",
    "plan_json",
    "plan_table",
    "spec_json",
    "spec_rows",
    "spec_table",
]
