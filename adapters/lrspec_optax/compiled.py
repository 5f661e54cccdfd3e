"""The result of compiling a Plan for optax: the transformation, the plan, lrs, checkpoints."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lrspec.plan import Plan
from lrspec.tools.explain import plan_table
from lrspec.tools.render import DEFAULT_WIDTH, fmt_float, render_table

__all__ = ["CompiledOptax"]


@dataclass
class CompiledOptax:
    """What ``lrspec.compile(spec, params, target="optax")`` returns.

    ``optimizer`` is an ``optax.GradientTransformation``: ``state = optimizer.init(params)``,
    ``updates, state = optimizer.update(grads, state, params)``,
    ``params = optax.apply_updates(params, updates)`` (jit it as usual). ``plan`` is the
    resolved plan; ``native`` is True when optax's own transforms carry the update
    (``native_reason`` says why not otherwise); ``template`` is the state's structure
    (``jax.ShapeDtypeStruct`` leaves), used by :meth:`load_state`.
    """

    optimizer: Any
    plan: Plan
    native: bool
    native_reason: str | None
    template: Any

    def init(self, params: Any) -> Any:
        """``optimizer.init(params)``."""
        return self.optimizer.init(params)

    def lrs(self, t: int) -> dict[str, float]:
        """The lr of each plan group at update ``t`` (0.0 while frozen)."""
        return {g.name: g.lr_at(t) for g in self.plan.groups}

    def step_of(self, state: Any) -> int:
        """The updates ``state`` has applied (its ``count``)."""
        return int(state.count)

    def save_state(self, path: str | os.PathLike[str], state: Any) -> None:
        """Write ``state`` to ``path`` (``.npz``: one array per flattened leaf, plus the plan's
        fingerprint and the leaves' key paths); see :func:`lrspec_optax.state_io.save_state`."""
        from lrspec_optax.state_io import save_state

        save_state(path, state, self.plan.fingerprint)

    def load_state(self, path: str | os.PathLike[str]) -> Any:
        """Read a state written by :meth:`save_state`. Raises :class:`lrspec.CheckpointError`
        (naming both fingerprints) for a state of another plan, or for a corrupt file."""
        from lrspec_optax.state_io import load_state

        return load_state(path, self.template, self.plan.fingerprint)

    def rows(self, t: int) -> list[dict[str, Any]]:
        """One dict per plan group: name, leaf count, numel, lr at ``t``, weight decay."""
        out = []
        for g in self.plan.groups:
            shapes = [self.plan.param(n).shape for n in g.params]
            numel = sum(1 if s is None else _prod(s) for s in shapes)
            out.append(
                {
                    "group": g.name,
                    "params": len(g.params),
                    "numel": numel,
                    "lr": g.lr_at(t),
                    "weight_decay": g.weight_decay,
                }
            )
        return out

    def describe(self, t: int = 0, *, params: bool = False, width: int = DEFAULT_WIDTH) -> str:
        """A readable summary: the transformation and how it is built, the groups with their
        lr at update ``t``, then the plan (:func:`lrspec.tools.explain.plan_table`)."""
        impl = "optax transforms" if self.native else f"lrspec rule ({self.native_reason})"
        head = f"optax GradientTransformation, {self.plan.family} via {impl}: {len(self.plan.groups)} group(s), t = {t}"
        rows = [
            [r["group"], str(r["params"]), str(r["numel"]), fmt_float(r["lr"]), fmt_float(r["weight_decay"])]
            for r in self.rows(t)
        ]
        table = render_table(
            ["group", "leaves", "numel", f"lr@{t}", "wd"], rows, width=width, align=["l", "r", "r", "r", "r"]
        )
        return "\n".join([head, table, "", plan_table(self.plan, width=width, params=params)])

    def __str__(self) -> str:
        return self.describe()


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
