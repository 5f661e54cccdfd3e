"""Target ``tf-v1``: torch's update rules as tf.compat.v1 graph ops.

:meth:`CompiledV1.minimize` makes **one** ``tf.compat.v1.gradients`` call over the trainable
variables (permanently frozen variables are never differentiated), splits the gradients by plan
group, builds one apply op per group with the per-variable update of the Keras optimizers
(:func:`lrspec_tf.rules.update_variable`) and the group's lr tensor ``group.lr * m(t)``
(float64 schedule ops, :mod:`lrspec_tf.schedules`; gradient-scale:
:func:`lrspec_tf.gradient_scale.lr_and_gradient_multiplier`), combines them with
``tf.group`` and then increments the clock once. The clock ``t`` is ``global_step`` when one is
given (read before the increment, so the first update uses t = 0), else an internal int64
variable ``<name>/iterations``. Per-variable state (slots and step counters) is created on the
first call, non-trainable, in the global variables collection: run
``tf.compat.v1.global_variables_initializer()`` after ``minimize``. Variables frozen until N are
masked with ``tf.cond(t >= N, ...)``; a ``None`` gradient skips the variable (torch semantics).
Each variable is updated with its group's family (``group.family``: a plan may mix, e.g. muon
for matrices and adamw for the rest), in the variable's dtype (float32 or float64); muon's
Newton-Schulz iteration runs in ``newton_schulz_dtype`` (None: bfloat16, as torch's stock Muon).
Works in a ``tf.Graph`` with ``tf.compat.v1.Session``, under ``disable_eager_execution()`` and,
for convenience, eagerly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import tensorflow as tf

from lrspec.errors import TargetError
from lrspec.plan import Plan, PlanGroup
from lrspec_tf import rules
from lrspec_tf._common import canonical_name, unknown_variable_error
from lrspec_tf.compiled import describe_plan
from lrspec_tf.gradient_scale import lr_and_gradient_multiplier, scale_gradient
from lrspec_tf.schedules import ScheduleOp, schedule_op

__all__ = ["CompiledV1"]


def _read(v: Any) -> Any:
    return tf.convert_to_tensor(v)


class _Slot:
    """A tf.Variable seen as a Keras variable (``.value`` is the tf.Variable): how
    :func:`lrspec_tf.rules.update_variable` reads and assigns slots and step counters."""

    __slots__ = ("value",)

    def __init__(self, variable: Any) -> None:
        self.value = variable


class CompiledV1:
    """What ``lrspec.compile(..., target="tf-v1")`` returns.

    ``trainable_variables``: the variables that are differentiated and updated (permanently
    frozen ones removed); ``plan``; ``minimize(loss, global_step=None)`` and
    ``apply_gradients(grads_and_vars, global_step=None)`` return the train op;
    ``describe()`` summarises the plan. ``newton_schulz_dtype``: muon's iteration dtype (None =
    bfloat16 as torch, ``"float32"`` or ``"float64"``).
    """

    def __init__(self, plan: Plan, variables: Sequence[Any], strategy: str = "multiplier",
                 report: Sequence[str] = (), name: str = "lrspec", names: Sequence[str] | None = None,
                 newton_schulz_dtype: str | None = None) -> None:
        if newton_schulz_dtype not in (None, "bfloat16", "float32", "float64"):
            raise TargetError(
                f"newton_schulz_dtype must be None (bfloat16, as torch), 'float32' or 'float64', "
                f"got {newton_schulz_dtype!r}"
            )
        self.plan = plan
        self.newton_schulz_dtype = newton_schulz_dtype
        self.strategy = strategy
        self.report = list(report)
        self._name = name
        # canonical names by variable identity (layer-tree names for a Keras model, see _common)
        cnames = list(names) if names is not None else [canonical_name(v) for v in variables]
        self._name_of: dict[int, str] = {id(v): n for v, n in zip(variables, cnames)}
        self._by_name: dict[str, Any] = {}
        for v, n in zip(variables, cnames):
            self._by_name[n] = v
        frozen = set(plan.frozen_params)
        self.trainable_variables: list[Any] = [v for v, n in zip(variables, cnames) if n not in frozen]
        self._group_of: dict[str, PlanGroup] = {n: plan.group_of(n) for n in self._by_name if n in set(plan.names)}
        self._schedules: dict[str, ScheduleOp] = {g.name: schedule_op(g.schedule) for g in plan.groups}
        self._state: dict[int, tuple[dict[str, Any], Any]] = {}
        self._clock: Any = None
        self.apply_ops_per_call = 0

    # ------------------------------------------------------------------ state
    def _cname(self, var: Any) -> str:
        """The canonical name of ``var``: the one it was compiled under, else :func:`canonical_name`."""
        return self._name_of.get(id(var)) or canonical_name(var)

    def _get_clock(self) -> Any:
        if self._clock is None:
            with tf.init_scope(), tf.name_scope(self._name):
                self._clock = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="iterations")
        return self._clock

    def _family(self, group: PlanGroup) -> str:
        """The family updating ``group``'s variables: ``group.family``, else the plan's."""
        return getattr(group, "family", "") or self.plan.family

    def _state_for(self, var: Any, group: PlanGroup) -> tuple[dict[str, Any], Any]:
        key = id(var)
        if key not in self._state:
            family = self._family(group)
            shape = var.shape
            dtype = var.dtype.base_dtype
            base = self._cname(var).replace(".", "_")
            slots: dict[str, Any] = {}
            step = None
            with tf.init_scope(), tf.name_scope(self._name):
                for s in rules.slot_specs(family, group.hyperparameters, ndim=shape.rank):
                    sdt = tf.float64 if s.dtype == "float64" else dtype
                    slots[s.name] = tf.Variable(tf.fill(rules.slot_shape(s, shape), tf.constant(s.initial, sdt)),
                                                trainable=False, name=f"{base}_{s.name}")
                if rules.needs_step(family, group.hyperparameters):
                    step = tf.Variable(tf.constant(0, tf.int64), trainable=False, name=f"{base}_step")
            self._state[key] = (slots, step)
        return self._state[key]

    @property
    def variables(self) -> list[Any]:
        """The optimizer's own variables (clock, slots, step counters) created so far."""
        out = [] if self._clock is None else [self._clock]
        for slots, step in self._state.values():
            out += list(slots.values()) + ([step] if step is not None else [])
        return out

    # ------------------------------------------------------------------ ops
    def minimize(self, loss: Any, global_step: Any = None, name: str | None = None) -> Any:
        """One ``tf.compat.v1.gradients`` pass over :attr:`trainable_variables`, then
        :meth:`apply_gradients`. Returns the train op."""
        if not self.trainable_variables:
            raise TargetError("every variable is permanently frozen by the plan: nothing to minimize")
        if tf.executing_eagerly():
            raise TargetError(
                "minimize(loss) needs graph mode (a tf.Graph or disable_eager_execution()); eagerly, compute "
                "gradients with tf.GradientTape and call apply_gradients"
            )
        grads = tf.compat.v1.gradients(loss, self.trainable_variables)
        return self.apply_gradients(zip(grads, self.trainable_variables), global_step=global_step, name=name)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]], global_step: Any = None,
                        name: str | None = None) -> Any:
        """Apply torch's rule to every (gradient, variable) pair with a gradient, one ``tf.group``
        per plan group, then increment the clock (``global_step`` if given) once."""
        pairs = list(grads_and_vars)
        frozen = set(self.plan.frozen_params)
        by_group: dict[str, list[tuple[Any, Any]]] = {}
        for g, v in pairs:
            n = self._cname(v)
            if n not in self._group_of:
                raise unknown_variable_error(n, self.plan.names, "tf-v1 apply_gradients")
            if n in frozen or g is None:
                continue
            by_group.setdefault(self._group_of[n].name, []).append((g, v))
        if not by_group:
            raise TargetError("apply_gradients: no variable has a gradient (or all are frozen)")
        clock = global_step if global_step is not None else self._get_clock()
        with tf.name_scope(name or self._name):
            t = tf.cast(_read(clock), tf.int64)
            group_ops = []
            for gname, gv in by_group.items():
                group = self.plan.group(gname)
                group_ops.append(self._apply_group(group, gv, t))
            update = tf.group(*group_ops, name="update")
            self.apply_ops_per_call = len(group_ops)
            with tf.control_dependencies([update]):
                inc = tf.compat.v1.assign_add(clock, tf.constant(1, clock.dtype.base_dtype)) \
                    if not hasattr(clock, "handle") else clock.assign_add(tf.constant(1, clock.dtype.base_dtype))
            with tf.control_dependencies([inc]):
                return tf.group(update, name="train_op")

    def _apply_group(self, group: PlanGroup, gv: list[tuple[Any, Any]], t: Any) -> Any:
        """One op updating every (gradient, variable) of ``group`` with the Keras optimizers'
        per-variable update (:func:`lrspec_tf.rules.update_variable`)."""
        lr_value, mult = lr_and_gradient_multiplier(self.strategy, group.lr, float(self.plan.optimizer.lr))
        lr = tf.constant(lr_value, tf.float64) * self._schedules[group.name](t)
        family = self._family(group)
        ops = []
        for grad, var in gv:
            slots, step_var = self._state_for(var, group)
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            grad = scale_gradient(tf.cast(grad, var.dtype.base_dtype), mult)
            ops.append(
                rules.update_variable(
                    family, var, grad, {k: _Slot(v) for k, v in slots.items()}, lr,
                    None if step_var is None else _Slot(step_var), group.weight_decay, group.hyperparameters,
                    group.frozen_until, t, self.newton_schulz_dtype,
                )
            )
        return tf.group(*ops, name=f"apply_{len(ops)}")

    def describe(self) -> str:
        """A human-readable summary of the plan and how it is applied."""
        return describe_plan(self.plan, f"lrspec target 'tf-v1' ({self.strategy})", self.report)

    def __repr__(self) -> str:
        return f"CompiledV1(strategy={self.strategy!r}, variables={len(self.trainable_variables)}, groups={len(self.plan.groups)})"
