"""Result objects of the ``keras`` target (alias ``tf``); ``tf-v1`` reuses :func:`describe_plan`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lrspec.plan import Plan, PlanGroup
from lrspec.schedules import describe as describe_schedule

__all__ = ["CompiledKeras", "CompiledTF", "describe_plan"]


def _hyper_text(g: PlanGroup) -> str:
    return ", ".join(f"{k}={v}" for k, v in g.hyperparameters.items())


def describe_plan(plan: Plan, header: str, notes: Sequence[str] = ()) -> str:
    """A readable table of the plan's groups, preceded by ``header`` and followed by ``notes``."""
    families = tuple(getattr(plan, "families", ()) or (plan.family,))
    fam = f"families: {', '.join(families)}" if len(families) > 1 else f"family: {plan.family}"
    lines = [header, f"{fam}; {len(plan.names)} variables in {len(plan.groups)} groups"]
    for g in plan.groups:
        if g.frozen:
            state = "frozen"
        elif g.frozen_until is not None:
            state = f"frozen until update {g.frozen_until}"
        else:
            state = "trained"
        lines.append(
            f"  [{g.name}] {len(g.params)} variables, {state}, lr={g.lr:g}, weight_decay={g.weight_decay:g}, "
            f"schedule={describe_schedule(g.schedule)}"
            + (f", {g.family}" if len(families) > 1 and g.family else "")
            + (f", {_hyper_text(g)}" if not g.frozen else "")
        )
        shown = ", ".join(g.params[:6]) + (f", ... ({len(g.params)})" if len(g.params) > 6 else "")
        lines.append(f"      {shown}")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


@dataclass
class CompiledKeras:
    """What ``lrspec.compile(..., target="keras")`` (or ``"tf"``) returns.

    ``optimizer``: a ``keras.optimizers.Optimizer`` (an :class:`~lrspec_keras.optimizers.LrspecOptimizer`
    subclass, or with ``native=True`` a ``keras.optimizers.MultiOptimizer`` of stock optimizers);
    ``trainable_variables``: the variables to differentiate (permanently frozen ones removed);
    ``plan``: the resolved plan; ``strategy``: ``"multiplier"``, ``"gradient-scale"`` or ``"native"``;
    ``report``: notes on exactness (native / gradient-scale deviations).
    """

    optimizer: Any
    trainable_variables: list[Any]
    plan: Plan
    strategy: str = "multiplier"
    report: list[str] = field(default_factory=list)
    target: str = "keras"

    def describe(self) -> str:
        """A human-readable summary: groups, lrs, schedules, freezes and exactness notes."""
        header = f"lrspec target {self.target!r} ({self.strategy}): {type(self.optimizer).__name__}"
        return describe_plan(self.plan, header, self.report)

    def __repr__(self) -> str:
        return (
            f"CompiledKeras(optimizer={type(self.optimizer).__name__}, strategy={self.strategy!r}, "
            f"variables={len(self.trainable_variables)}, groups={len(self.plan.groups)})"
        )


CompiledTF = CompiledKeras
"""The earlier name of :class:`CompiledKeras`."""
