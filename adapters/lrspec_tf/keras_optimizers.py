"""Keras 3 optimizers that implement PyTorch's update rules per variable.

One class per family (:class:`TorchSGD`, :class:`TorchAdam`, :class:`TorchAdamW`,
:class:`TorchRMSprop`, :class:`TorchAdagrad`), all built from a plan's groups. Semantics:

* The lr of variable ``x`` (canonical name ``n``, in plan group ``G``) at update ``t`` is
  ``G.lr * (learning_rate / base_lr) * m_G(t)``, where ``t = optimizer.iterations`` counts the
  updates already applied (the first update uses t = 0) and ``m_G`` is the group's schedule,
  evaluated in float64 TF ops (:mod:`lrspec_tf.schedules`). ``learning_rate`` starts at
  ``base_lr`` (the spec's ``optimizer.lr``), so by default the scale is exactly 1; Keras callbacks
  that set ``optimizer.learning_rate`` (``LearningRateScheduler``, ``ReduceLROnPlateau``)
  therefore rescale every group proportionally, on top of the spec's schedules.
* Per-variable data (group, lr, weight decay, hyperparameters) is resolved in :meth:`build`
  from the variable's canonical name (:mod:`lrspec_tf._common`: its place in the model's layer
  tree, handed over by ``lrspec.compile``) and looked up in ``update_step`` with ``_get_variable_index`` (the TF
  backend passes raw ``tf.Variable`` objects, which have no ``path``).
* Each variable has its own step counter ``s`` (torch's ``state['step']``), incremented only
  when the variable is updated: a variable that gets no gradient (``None``) in a call is
  skipped entirely, like torch's ``p.grad is None``, and a variable frozen until step N starts
  its bias correction at s = 1 at update N. Bias corrections are computed in float64.
* Weight decay follows torch (coupled L2 for sgd/adam/rmsprop/adagrad, ``p *= 1 - lr*wd`` for
  adamw) and is implemented inside the rule; Keras's own ``weight_decay`` must stay unset.
* Permanently frozen variables get no state and are never touched, even when passed to
  ``apply`` (as ``model.fit`` does with ``model.trainable_variables``). Variables frozen until N
  receive no update, no state update and no weight decay while ``iterations < N``; the mask is a
  ``tf.cond`` on ``iterations`` inside the graph, so nothing is retraced.
* ``strategy="gradient-scale"``: every variable uses ``base_lr * (learning_rate/base_lr) * m(t)``
  and its gradient is multiplied by ``G.lr / base_lr`` instead (see
  :mod:`lrspec_tf.gradient_scale` for when that is exact).

The optimizers serialise with ``get_config``/``from_config`` (the plan's groups and the
canonical names of the variables it was built with, in build order, are part of the config),
so ``.keras`` files and ``tf.train.Checkpoint`` round-trip; ``variables`` lists every slot and
step counter. A reloaded optimizer is rebuilt by Keras with ``model.trainable_variables`` only
(no model): it names them by position from the saved names, as Keras restores its state by
position, after checking each against the variable's path (:func:`~lrspec_tf._common.names_compatible`),
because ``load_model`` changes the paths of Sequential models. Importing :mod:`lrspec_tf`
registers these classes with Keras once Keras is imported (see :mod:`lrspec_tf`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from lrspec.errors import TargetError
from lrspec.plan import PlanGroup
from lrspec_tf import rules
from lrspec_tf._common import (
    canonical_name,
    group_from_dict,
    groups_by_param,
    names_compatible,
    unknown_variable_error,
)
from lrspec_tf.gradient_scale import lr_and_gradient_multiplier, scale_gradient
from lrspec_tf.schedules import ScheduleOp, schedule_op

__all__ = [
    "FAMILY_CLASSES",
    "LrspecOptimizer",
    "TorchAdagrad",
    "TorchAdam",
    "TorchAdamW",
    "TorchRMSprop",
    "TorchSGD",
]

STRATEGIES = ("multiplier", "gradient-scale")


class LrspecOptimizer(keras.optimizers.Optimizer):  # type: ignore[misc]
    """Base class: a Keras optimizer driven by plan groups (see the module docstring)."""

    family: ClassVar[str] = ""

    def __init__(
        self,
        groups: Sequence[PlanGroup | Mapping[str, Any]],
        learning_rate: float | None = None,
        base_lr: float | None = None,
        strategy: str = "multiplier",
        name: str | None = None,
        variable_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("weight_decay") is not None:
            raise TargetError(
                "lrspec optimizers implement weight decay inside torch's rule (from the plan); "
                "Keras's decoupled `weight_decay` argument must not be set"
            )
        kwargs.pop("weight_decay", None)
        if strategy not in STRATEGIES:
            raise TargetError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
        parsed = tuple(group_from_dict(g) for g in groups)
        if not parsed:
            raise TargetError("an lrspec optimizer needs at least one plan group")
        if base_lr is None:
            trainable = [g.lr for g in parsed if not g.frozen]
            base_lr = trainable[0] if trainable else 1.0
        if learning_rate is None:
            learning_rate = float(base_lr)
        super().__init__(learning_rate=float(learning_rate), name=name, **kwargs)
        self._lrspec_groups = parsed
        self._lrspec_base_lr = float(base_lr)
        # learning_rate is stored in float32: dividing by the float32 base makes the scale exactly 1
        self._lrspec_base_lr_f32 = float(np.float32(base_lr))
        self._lrspec_strategy = strategy
        self._lrspec_index = groups_by_param(parsed)
        self._lrspec_schedules: list[ScheduleOp] = [schedule_op(g.schedule) for g in parsed]
        self._lrspec_saved_names = None if variable_names is None else tuple(str(n) for n in variable_names)
        self._lrspec_names: tuple[str, ...] = ()

    # ------------------------------------------------------------------ build
    @property
    def groups(self) -> tuple[PlanGroup, ...]:
        """The plan groups this optimizer implements."""
        return tuple(self._lrspec_groups)

    @property
    def strategy(self) -> str:
        return str(self._lrspec_strategy)

    def _names_for(self, variables: Sequence[Any]) -> list[str]:
        """Canonical names of ``variables`` when the caller gave none (Keras rebuilding a loaded
        optimizer, or a user's ``model.compile(optimizer=TorchAdam(...))``): the saved build-order
        names when they fit (same count, each compatible with the variable's path), else each
        path's name, or the one plan name compatible with it."""
        read = [canonical_name(v) for v in variables]
        saved = self._lrspec_saved_names
        if saved is not None and len(saved) == len(read) and all(map(names_compatible, saved, read)):
            return list(saved)
        out = []
        for r in read:
            if r not in self._lrspec_index:
                close = [n for n in self._lrspec_index if names_compatible(n, r)]
                r = close[0] if len(close) == 1 else r
            out.append(r)
        return out

    def build(self, variables: Sequence[Any], names: Sequence[str] | None = None) -> None:
        """Resolve every variable to its plan group by canonical name and create its state:
        a step counter where the rule needs one and the family's slots (zeros; adagrad's sum
        starts at ``initial_accumulator_value``). Permanently frozen variables get nothing.
        ``names``: the variables' canonical names (``lrspec.compile`` passes the layer-tree
        names); without them, see :meth:`_names_for`."""
        if self._is_built():
            return
        variables = list(variables)
        cnames = list(names) if names is not None else self._names_for(variables)
        if len(cnames) != len(variables):
            raise TargetError(f"{type(self).__name__}.build: {len(variables)} variables but {len(cnames)} names")
        var_group: list[int] = []
        for cname in cnames:
            gi = self._lrspec_index.get(cname)
            if gi is None:
                raise unknown_variable_error(cname, self._lrspec_index, f"{type(self).__name__}.build")
            var_group.append(gi)
        super().build(variables)
        self._lrspec_names = tuple(cnames)
        slot_names: list[str] = []
        for g in self._lrspec_groups:
            for s in rules.slot_specs(self.family, g.hyperparameters):
                if s.name not in slot_names:
                    slot_names.append(s.name)
        slots: dict[str, list[Any]] = {n: [] for n in slot_names}
        steps: list[Any] = []
        for var, gi, cname in zip(variables, var_group, cnames):
            g = self._lrspec_groups[gi]
            specs = {} if g.frozen else {s.name: s for s in rules.slot_specs(self.family, g.hyperparameters)}
            if not g.frozen and rules.needs_step(self.family, g.hyperparameters):
                steps.append(self._add_step_variable(var, cname))
            else:
                steps.append(None)
            for n in slot_names:
                if n in specs:
                    init: Any = "zeros" if specs[n].initial == 0.0 else keras.initializers.Constant(specs[n].initial)
                    slots[n].append(self.add_variable_from_reference(var, name=n, initializer=init))
                else:
                    slots[n].append(None)
        self._lrspec_var_group = var_group
        self._lrspec_steps = steps
        self._lrspec_slot_names = tuple(slot_names)
        for n in slot_names:
            setattr(self, f"_lrspec_slot_{n}", slots[n])

    def _is_built(self) -> bool:
        return bool(getattr(self, "built", False))

    def _add_step_variable(self, var: Any, cname: str) -> Any:
        ref = var.value if isinstance(var, keras.Variable) else var
        with self._distribution_strategy.extended.colocate_vars_with(ref):
            return self.add_variable(shape=(), dtype="int64", name=f"{cname.replace('.', '_')}_step")

    # ------------------------------------------------------------------ apply
    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> Any:
        """Like Keras's ``apply``, but permanently frozen variables are dropped first (they are
        never touched, whatever gradient they get)."""
        if trainable_variables is None:
            if not self._is_built():
                return super().apply(grads, trainable_variables)
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self._is_built():
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
            self.built = True
        self._check_variables_are_known(trainable_variables)
        kept_g, kept_v = [], []
        for g, v in zip(grads, trainable_variables):
            if not self._lrspec_groups[self._lrspec_var_group[self._get_variable_index(v)]].frozen:
                kept_g.append(g)
                kept_v.append(v)
        if not kept_v:
            raise TargetError("every variable passed to apply() is permanently frozen by the plan")
        return super().apply(kept_g, kept_v)

    def _slot(self, name: str, idx: int) -> Any:
        return getattr(self, f"_lrspec_slot_{name}")[idx]

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One torch-rule update of ``variable`` (see the module docstring)."""
        idx = self._get_variable_index(variable)
        g = self._lrspec_groups[self._lrspec_var_group[idx]]
        if g.frozen:
            return
        t = tf.convert_to_tensor(self._iterations.value if isinstance(self._iterations, keras.Variable)
                                 else self._iterations)
        scale = tf.cast(learning_rate, tf.float64) / tf.constant(self._lrspec_base_lr_f32, tf.float64)
        sched = self._lrspec_schedules[self._lrspec_var_group[idx]](t)
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        grad = tf.cast(gradient, variable.dtype)
        lr_value, mult = lr_and_gradient_multiplier(self._lrspec_strategy, g.lr, self._lrspec_base_lr)
        lr = tf.constant(lr_value, tf.float64) * scale * sched
        grad = scale_gradient(grad, mult)
        slot_vars = {n: self._slot(n, idx) for n in self._lrspec_slot_names if self._slot(n, idx) is not None}
        rules.update_variable(
            self.family, variable, grad, slot_vars, lr, self._lrspec_steps[idx], g.weight_decay, g.hyperparameters,
            g.frozen_until, t,
        )

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.pop("weight_decay", None)
        config.update(
            {
                "groups": [g.to_dict() for g in self._lrspec_groups],
                "base_lr": self._lrspec_base_lr,
                "strategy": self._lrspec_strategy,
                "variable_names": list(self._lrspec_names) if self._is_built() else self._lrspec_saved_names,
            }
        )
        if config["variable_names"] is not None:
            config["variable_names"] = list(config["variable_names"])
        return config

    def describe_variables(self) -> list[tuple[str, str]]:
        """(canonical name, plan group) for every variable the optimizer was built with."""
        if not self._is_built():
            return []
        return [(n, self._lrspec_groups[gi].name) for n, gi in zip(self._lrspec_names, self._lrspec_var_group)]


@keras.saving.register_keras_serializable(package="lrspec")
class TorchSGD(LrspecOptimizer):
    """torch.optim.SGD per plan group: coupled wd, momentum with dampening, Nesterov."""

    family = "sgd"


@keras.saving.register_keras_serializable(package="lrspec")
class TorchAdam(LrspecOptimizer):
    """torch.optim.Adam per plan group: coupled wd, eps after the float64 bias correction, AMSGrad."""

    family = "adam"


@keras.saving.register_keras_serializable(package="lrspec")
class TorchAdamW(LrspecOptimizer):
    """torch.optim.AdamW per plan group: ``p *= 1 - lr*wd``, then the Adam step."""

    family = "adamw"


@keras.saving.register_keras_serializable(package="lrspec")
class TorchRMSprop(LrspecOptimizer):
    """torch.optim.RMSprop per plan group: eps outside the square root, lr outside the momentum."""

    family = "rmsprop"


@keras.saving.register_keras_serializable(package="lrspec")
class TorchAdagrad(LrspecOptimizer):
    """torch.optim.Adagrad per plan group: eps outside the square root, lr_decay per variable step."""

    family = "adagrad"


FAMILY_CLASSES: dict[str, type[LrspecOptimizer]] = {
    "sgd": TorchSGD,
    "adam": TorchAdam,
    "adamw": TorchAdamW,
    "rmsprop": TorchRMSprop,
    "adagrad": TorchAdagrad,
}
