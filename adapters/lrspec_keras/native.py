"""``native=True``: a ``keras.optimizers.MultiOptimizer`` of stock Keras optimizers, one per plan group.

Written with ``keras.ops``: works on every Keras backend that ships ``MultiOptimizer``.

For users who want stock objects. Stock Keras optimizers do not implement torch's rules, so
:func:`build_native` reports, per group, whether the mapping is exact or how it deviates
(numbers measured against torch, see ../shared/SEMANTICS.md), and refuses what stock
optimizers cannot express:

* sgd: plain SGD is exact (Keras's decoupled weight decay equals torch's coupled L2 without
  momentum). With momentum, Keras keeps the lr inside the velocity: exact only for a constant
  lr (a schedule drifts 15-26 % of displacement). Refused: dampening, weight decay with momentum.
* adam / adamw: ``epsilon`` is added before the bias correction (eps-hat) and the bias
  corrections are float32: 7e-5 to 2e-4 of displacement, 1-2 % for gradients near 1e-5.
  Refused: adam with (coupled) weight decay.
* rmsprop: mapped with ``epsilon = eps**2`` (Keras puts eps inside the square root):
  5e-5 to 1.3e-4, ~1 % for tiny gradients; with momentum and a schedule the lr sits inside the
  momentum (33 %). Refused: weight decay.
* adagrad: ``epsilon = eps**2``, ``initial_accumulator_value`` as in torch: at the float32 floor
  for normal gradients, 2-5e-5 for tiny ones. Refused: weight decay, lr_decay.
* freezes: permanently frozen variables are routed to an ``SGD(learning_rate=0.0)`` (the map's
  default; p - 0*g leaves them bitwise unchanged). ``frozen_until`` is refused except for plain
  SGD, because stock optimizers keep advancing their state and step while the lr is 0.

Each group's lr is a :class:`GroupSchedule` (a serialisable ``LearningRateSchedule``
evaluating ``group.lr * m(t)`` on the sub-optimizer's own ``iterations``, which equals the
global update count as long as the group receives gradients at every update).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from lrspec.errors import TargetError
from lrspec.plan import Plan, PlanGroup
from lrspec_keras._backend import const, scalar_dtype
from lrspec_keras._names import canonical_name, family_of, group_from_dict
from lrspec_keras.schedules import schedule_op

__all__ = ["GroupSchedule", "build_native"]


@keras.saving.register_keras_serializable(package="lrspec")
class GroupSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``lr(t) = group.lr * m(t)`` (0 while ``t < frozen_until``), evaluated in the scalar dtype
    (:mod:`lrspec_keras._backend`) and returned as float32."""

    def __init__(self, group: Any) -> None:
        self.group = group_from_dict(group)
        self._fn = schedule_op(self.group.schedule)

    def __call__(self, step: Any) -> Any:
        t = ops.cast(step, "int32")
        sd = scalar_dtype()
        lr = const(self.group.lr, sd) * self._fn(t)
        if self.group.frozen_until is not None:
            lr = ops.where(ops.greater_equal(t, int(self.group.frozen_until)), lr, const(0.0, sd))
        return ops.cast(lr, "float32")

    def get_config(self) -> dict[str, Any]:
        return {"group": self.group.to_dict()}


_STOCK_FAMILIES = ("sgd", "adam", "adamw", "rmsprop", "adagrad")


def _constant_schedule(g: PlanGroup) -> bool:
    return g.schedule.type == "constant" and g.frozen_until is None


def _stock(plan: Plan, g: PlanGroup, notes: list[str], refusals: list[str]) -> Any:
    family, h, wd = family_of(g, plan.family), g.hyperparameters, g.weight_decay
    if family not in _STOCK_FAMILIES:
        refusals.append(f"group {g.name!r}: no stock Keras optimizer implements torch's {family} rule")
        return None
    lr: Any = float(g.lr) if _constant_schedule(g) else GroupSchedule(g)
    where = f"group {g.name!r}"
    stateful = not (family == "sgd" and float(h.get("momentum", 0.0)) == 0.0)
    if g.frozen_until is not None and stateful:
        refusals.append(
            f"{where} is frozen until update {g.frozen_until}, but a stock Keras {family} optimizer keeps advancing "
            "its state and step while its lr is 0"
        )
    if family == "sgd":
        mu = float(h.get("momentum", 0.0))
        if mu == 0.0:
            notes.append(f"{where}: SGD is exact (weight decay {wd:g} via Keras's decoupled decay, identical without momentum)")
            return keras.optimizers.SGD(learning_rate=lr, weight_decay=wd or None)
        if float(h.get("dampening", 0.0)) != 0.0:
            refusals.append(f"{where}: Keras SGD has no dampening (dampening={h['dampening']})")
        if wd != 0.0:
            refusals.append(
                f"{where}: torch's coupled weight decay with momentum cannot be expressed (Keras's is decoupled; 13-33 % drift)"
            )
        if _constant_schedule(g):
            notes.append(f"{where}: SGD momentum is exact with a constant lr")
        else:
            notes.append(
                f"{where}: DEVIATES: Keras SGD keeps the lr inside the momentum buffer; with this schedule the "
                "trajectory drifts 15-26 % of displacement from torch's"
            )
        return keras.optimizers.SGD(learning_rate=lr, momentum=mu, nesterov=bool(h.get("nesterov", False)))
    if family in ("adam", "adamw"):
        b1, b2 = (float(b) for b in h["betas"])
        eps = float(h["eps"])
        if family == "adam" and wd != 0.0:
            refusals.append(
                f"{where}: torch Adam's weight decay is coupled L2 (added to the gradient); Keras's is decoupled "
                f"(2 % drift, 140 % on small gradients); use adamw or the default (non-native) target"
            )
        notes.append(
            f"{where}: DEVIATES: Keras {'AdamW' if family == 'adamw' and wd else 'Adam'} adds epsilon before the "
            "bias correction and computes it in float32 (7e-5 to 2e-4 of displacement, 1-2 % for gradients ~1e-5)"
        )
        if family == "adamw" and wd != 0.0:
            return keras.optimizers.AdamW(learning_rate=lr, weight_decay=wd, beta_1=b1, beta_2=b2, epsilon=eps,
                                          amsgrad=bool(h.get("amsgrad", False)))
        return keras.optimizers.Adam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps,
                                     amsgrad=bool(h.get("amsgrad", False)))
    if family == "rmsprop":
        if wd != 0.0:
            refusals.append(f"{where}: torch RMSprop's coupled weight decay cannot be expressed by Keras RMSprop")
        mu = float(h.get("momentum", 0.0))
        notes.append(
            f"{where}: DEVIATES: Keras RMSprop puts epsilon inside the square root (mapped to eps**2: 5e-5 to 1.3e-4, "
            "~1 % for tiny gradients)"
            + ("; the lr sits inside the momentum buffer, so this schedule drifts ~33 %" if mu and not _constant_schedule(g) else "")
        )
        return keras.optimizers.RMSprop(learning_rate=lr, rho=float(h["alpha"]), epsilon=float(h["eps"]) ** 2,
                                        momentum=mu, centered=bool(h.get("centered", False)))
    if family == "adagrad":
        if wd != 0.0:
            refusals.append(f"{where}: torch Adagrad's coupled weight decay cannot be expressed by Keras Adagrad")
        if float(h.get("lr_decay", 0.0)) != 0.0:
            refusals.append(f"{where}: Keras Adagrad has no lr_decay (it needs a per-variable step count)")
        notes.append(
            f"{where}: DEVIATES slightly: Keras Adagrad puts epsilon inside the square root (mapped to eps**2: at the "
            "float32 floor for normal gradients, 2-5e-5 for gradients ~1e-5)"
        )
        return keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=float(h["initial_accumulator_value"]),
                                        epsilon=float(h["eps"]) ** 2)
    raise TargetError(f"unknown family {family!r}")


def build_native(plan: Plan, variables: Sequence[Any], name: str | None = None,
                 names: Sequence[str] | None = None) -> tuple[Any, list[str]]:
    """A ``MultiOptimizer`` (one stock optimizer per trainable plan group, frozen variables routed
    to ``SGD(0.0)``) and the exactness report. Raises :class:`TargetError` listing every feature
    stock optimizers cannot express. ``names``: the variables' canonical names (default
    :func:`canonical_name`). Keras's ``OptimizerMap`` routes by ``variable.path``, which
    ``load_model`` changes for Sequential models: a reloaded native optimizer of such a model
    routes wrongly (a Keras limitation; the default target does not have it)."""
    if not hasattr(keras.optimizers, "MultiOptimizer"):
        raise TargetError(
            f"native=True needs keras.optimizers.MultiOptimizer (Keras >= 3.15); this is Keras {keras.__version__}"
        )
    paths: dict[str, str] = {}
    cnames = list(names) if names is not None else [canonical_name(v) for v in variables]
    for v, n in zip(variables, cnames):
        p = getattr(v, "path", None)
        if not isinstance(p, str):
            raise TargetError(f"native=True needs Keras variables (with .path); got {v!r}")
        paths[n] = p
    notes: list[str] = []
    refusals: list[str] = []
    sink = keras.optimizers.SGD(learning_rate=0.0, name="lrspec_frozen")
    mapping: dict[str, Any] = {}
    for g in plan.trainable_groups:
        opt = _stock(plan, g, notes, refusals)
        if opt is None:
            continue
        keys = [re.escape(paths[n]) for n in g.params if n in paths]
        if keys:
            mapping["(?:" + "|".join(keys) + ")"] = opt
    if refusals:
        raise TargetError("native=True cannot express this spec with stock Keras optimizers: " + "; ".join(refusals)
                          + "; use the default (native=False) target, which implements torch's rules exactly")
    if plan.frozen_params:
        notes.append(f"{len(plan.frozen_params)} permanently frozen variable(s) routed to SGD(learning_rate=0.0)")
    opt = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(sink, mapping), name=name)
    return opt, notes
