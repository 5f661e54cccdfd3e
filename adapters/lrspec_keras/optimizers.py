"""Keras 3 optimizers that implement PyTorch's update rules per variable, on every Keras backend.

One class per family (:data:`FAMILY_CLASSES`: :class:`TorchSGD`, :class:`TorchAdam`, ...), all
built from a plan's groups and written with ``keras.ops`` (:mod:`lrspec_keras.rules`), so they
run under ``KERAS_BACKEND=tensorflow``, ``jax`` and ``torch``. Semantics:

* The lr of variable ``x`` (canonical name ``n``, plan group ``G``) at update ``t`` is
  ``G.lr * (learning_rate / base_lr) * m_G(t)``, where ``t = optimizer.iterations`` counts the
  updates already applied (the first update uses t = 0) and ``m_G`` is the group's schedule
  (:mod:`lrspec_keras.schedules`). ``learning_rate`` starts at ``base_lr`` (the spec's
  ``optimizer.lr``; the float32 ratio is exactly 1), so Keras callbacks that set it
  (``LearningRateScheduler``, ``ReduceLROnPlateau``) rescale every group proportionally.
* Each variable is updated by its group's family (``PlanGroup.family``, else the class's), so
  one optimizer serves a mixed-family plan (muon for matrices, adamw for the rest).
* Per-variable data is resolved in :meth:`build` from the variable's canonical name
  (:mod:`lrspec_keras._names`) and looked up in ``update_step`` with ``_get_variable_index``
  (the TF backend passes raw ``tf.Variable`` objects, which have no ``path``).
* Each variable has its own step counter ``s`` (torch's ``state['step']``), incremented only
  when it is updated: a variable with a ``None`` gradient is skipped entirely (torch's
  ``p.grad is None``), and one frozen until N starts its bias correction at s = 1 at update N.
* Permanently frozen variables get no state and are never touched, but stay in the variable
  list the optimizer is built with: ``model.fit`` passes ``model.trainable_variables``, and the
  JAX trainer's ``stateless_apply`` demands exactly the built list, so nothing is dropped in
  ``apply``; ``update_step`` returns at once for them. Variables frozen until N get no
  update, no state change and no weight decay while ``iterations < N``: every new value is
  ``ops.where(iterations >= N, new, old)`` (branch-free: works in ``jax.jit``, ``tf.function``
  and torch alike).
* On the TensorFlow backend without a distribution strategy, adam/adamw (no amsgrad) and sgd
  (no dampening) use TF's fused kernels (:mod:`lrspec_keras._tf_fused`), which are faster.
* ``strategy="gradient-scale"``: every variable uses ``base_lr`` and its gradient is multiplied
  by ``G.lr / base_lr`` instead (:mod:`lrspec_keras.gradient_scale` says when that is exact).
* Muon's Newton-Schulz iteration runs in bfloat16 like torch's stock ``Muon`` unless
  ``newton_schulz_dtype`` is ``"float32"`` or ``"float64"``.

The optimizers serialise with ``get_config``/``from_config`` (the plan's groups and the
canonical names of the build-time variables are part of the config), so ``.keras`` files
round-trip; ``variables`` lists every slot and step counter, in the order of the earlier
``lrspec_tf`` classes (which are these classes: old files load). A reloaded optimizer is rebuilt
by Keras with ``model.trainable_variables`` only: it names them by position from the saved
names, after checking each against the variable's path (``load_model`` changes the paths of
Sequential models). Importing :mod:`lrspec_keras` registers these classes with Keras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras
import numpy as np
from keras import ops

from lrspec.errors import TargetError
from lrspec.plan import PlanGroup
from lrspec_keras import rules
from lrspec_keras._backend import backend, const, int_dtype, is_tensorflow, scalar_dtype, tensor
from lrspec_keras._names import (
    canonical_name,
    family_of,
    group_from_dict,
    groups_by_param,
    names_compatible,
    unknown_variable_error,
)
from lrspec_keras.gradient_scale import lr_and_gradient_multiplier
from lrspec_keras.schedules import ScheduleOp, schedule_op

__all__ = ["FAMILY_CLASSES", "LrspecOptimizer", "NS_DTYPES", "STRATEGIES"]

STRATEGIES = ("multiplier", "gradient-scale")
NS_DTYPES = (None, "bfloat16", "float32", "float64")


def _torch_compiling() -> bool:
    """True inside ``torch.compile`` (Keras ``jit_compile=True`` on torch), where the per-variable
    ``ops.where`` path runs instead of Python branches on the step."""
    import torch

    return bool(torch.compiler.is_compiling())


def _slot_shape(spec: rules.SlotSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    if spec.shape == "scalar":
        return ()
    if spec.shape == "row":
        return (*shape[:-1], 1)
    if spec.shape == "col":
        return (*shape[:-2], 1, *shape[-1:])
    return shape


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
        newton_schulz_dtype: str | None = None,
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
        if newton_schulz_dtype not in NS_DTYPES:
            raise TargetError(f"newton_schulz_dtype must be one of {NS_DTYPES}, got {newton_schulz_dtype!r}")
        parsed = tuple(group_from_dict(g, self.family) for g in groups)
        if not parsed:
            raise TargetError("an lrspec optimizer needs at least one plan group")
        if base_lr is None:
            trainable = [g.lr for g in parsed if not g.frozen]
            base_lr = trainable[0] if trainable else 1.0
        if learning_rate is None:
            learning_rate = float(base_lr)
        super().__init__(learning_rate=float(learning_rate), name=name, **kwargs)
        self._lrspec_groups = parsed
        self._lrspec_families = tuple(family_of(g, self.family) for g in parsed)
        self._lrspec_base_lr = float(base_lr)
        # learning_rate is stored in float32: dividing by the float32 base makes the scale exactly 1
        self._lrspec_base_lr_f32 = float(np.float32(base_lr))
        self._lrspec_strategy = strategy
        self._lrspec_ns_dtype = newton_schulz_dtype
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
        optimizer, or ``model.compile(optimizer=TorchAdam(...))``): the saved build-order names
        when they fit (same count, each compatible with the variable's path), else each path's
        name, or the one plan name compatible with it."""
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
        a step counter where the rule needs one, then the family's slots. Permanently frozen
        variables get nothing. ``names``: the variables' canonical names (``lrspec.compile``
        passes the layer-tree names); without them, see :meth:`_names_for`."""
        if getattr(self, "built", False):
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
        # slots in the order of the union of slot names over the groups (the earlier lrspec_tf
        # classes' order, which Keras's positional loading of old .keras files relies on)
        order: dict[str, int] = {}
        for g, family in zip(self._lrspec_groups, self._lrspec_families):
            for s in rules.slot_specs(family, g.hyperparameters, ()):
                order.setdefault(s.name, len(order))
        steps: list[Any] = []
        state: list[dict[str, Any]] = []
        for var, gi, cname in zip(variables, var_group, cnames):
            g, family = self._lrspec_groups[gi], self._lrspec_families[gi]
            shape = tuple(int(d) for d in var.shape)
            if g.frozen:
                steps.append(None)
                state.append({})
                continue
            steps.append(self._add_step_variable(var, cname) if rules.needs_step(family, g.hyperparameters) else None)
            slots: dict[str, Any] = {}
            specs = sorted(rules.slot_specs(family, g.hyperparameters, shape), key=lambda s: order.get(s.name, len(order)))
            for s in specs:
                init: Any = "zeros" if s.initial == 0.0 else keras.initializers.Constant(s.initial)
                if s.shape == "like":
                    slots[s.name] = self.add_variable_from_reference(var, name=s.name, initializer=init)
                else:
                    slots[s.name] = self.add_variable(shape=_slot_shape(s, shape), dtype=var.dtype,
                                                      initializer=init, name=f"{cname.replace('.', '_')}_{s.name}")
            state.append(slots)
        # plain attributes (the variables are tracked by add_variable already)
        object.__setattr__(self, "_lrspec_var_group", var_group)
        object.__setattr__(self, "_lrspec_steps", steps)
        object.__setattr__(self, "_lrspec_state", state)

    def _add_step_variable(self, var: Any, cname: str) -> Any:
        name = f"{cname.replace('.', '_')}_step"
        if is_tensorflow():
            ref = var.value if isinstance(var, keras.Variable) else var
            with self._distribution_strategy.extended.colocate_vars_with(ref):
                return self.add_variable(shape=(), dtype=int_dtype(), name=name)
        return self.add_variable(shape=(), dtype=int_dtype(), name=name)

    # ------------------------------------------------------------------ update
    def _group_lr(self, gi: int, learning_rate: Any, t: Any) -> tuple[Any, float]:
        """(this update's lr for group ``gi`` as a scalar tensor, its gradient multiplier)."""
        sd = scalar_dtype()
        g = self._lrspec_groups[gi]
        scale = ops.cast(learning_rate, sd) / const(self._lrspec_base_lr_f32, sd)
        lr_value, mult = lr_and_gradient_multiplier(self._lrspec_strategy, g.lr, self._lrspec_base_lr)
        return const(lr_value, sd) * scale * self._lrspec_schedules[gi](t), mult

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One torch-rule update of ``variable`` (see the module docstring)."""
        idx = self._get_variable_index(variable)
        gi = self._lrspec_var_group[idx]
        g = self._lrspec_groups[gi]
        if g.frozen:
            return
        family = self._lrspec_families[gi]
        t = tensor(self._iterations)
        lr, mult = self._group_lr(gi, learning_rate, t)
        slots = self._lrspec_state[idx]
        step_var = self._lrspec_steps[idx]
        if is_tensorflow():
            import tensorflow as tf

            if isinstance(gradient, tf.IndexedSlices):
                gradient = tf.convert_to_tensor(gradient)
            if mult == 1.0 and not tf.distribute.has_strategy():
                from lrspec_keras import _tf_fused

                if _tf_fused.has_kernel(family, g.hyperparameters):
                    grad = tf.cast(gradient, variable.dtype)
                    _tf_fused.fused_update(family, variable, grad, slots, lr, step_var, g.weight_decay,
                                           g.hyperparameters, g.frozen_until, t)
                    return
        p = tensor(variable)
        grad = ops.cast(gradient, p.dtype)
        if mult != 1.0:
            grad = grad * mult
        state = {n: tensor(v) for n, v in slots.items()}
        step = new_step = None
        if step_var is not None:
            new_step = tensor(step_var) + 1
            step = ops.cast(new_step, scalar_dtype())
        extra = {"newton_schulz_dtype": self._lrspec_ns_dtype} if family == "muon" else {}
        new_p, new_state = rules.apply_rule(family, p, grad, state, lr, step, g.weight_decay, g.hyperparameters,
                                            **extra)
        if g.frozen_until is not None:
            active = ops.greater_equal(t, int(g.frozen_until))
            new_p = ops.where(active, new_p, p)
            new_state = {n: ops.where(active, v, state[n]) for n, v in new_state.items()}
            if step_var is not None:
                new_step = ops.where(active, new_step, tensor(step_var))
        self.assign(variable, new_p)
        for n, v in new_state.items():
            self.assign(slots[n], v)
        if step_var is not None:
            self.assign(step_var, new_step)

    def _backend_update_step(self, grads: Sequence[Any], trainable_variables: Sequence[Any],
                             learning_rate: Any) -> None:
        """Every variable's update. On the torch backend (eager), each plan group's variables go
        to torch.optim's multi-tensor rule together (:mod:`lrspec_keras._torch_foreach`); what it
        does not cover, and every other backend, goes through :meth:`update_step` (TensorFlow's
        override of this method, which handles ``tf.distribute``, is kept)."""
        if backend() != "torch" or _torch_compiling():
            super()._backend_update_step(grads, trainable_variables, learning_rate)
            return
        from lrspec_keras import _torch_foreach

        t = int(ops.convert_to_numpy(self._iterations))
        by_group: dict[int, list[tuple[Any, Any, int]]] = {}
        for grad, var in zip(grads, trainable_variables):
            idx = self._get_variable_index(var)
            gi = self._lrspec_var_group[idx]
            g = self._lrspec_groups[gi]
            if g.is_frozen_at(t):
                continue
            if _torch_foreach.has_foreach(self._lrspec_families[gi], g.hyperparameters):
                by_group.setdefault(gi, []).append((grad, var, idx))
            else:
                self.update_step(grad, var, learning_rate)
        # eager: each group's lr as a Python float, m(t) from lrspec.schedules (the definition)
        scale = float(ops.convert_to_numpy(learning_rate)) / self._lrspec_base_lr_f32
        for gi, members in by_group.items():
            g = self._lrspec_groups[gi]
            lr_value, mult = lr_and_gradient_multiplier(self._lrspec_strategy, g.lr, self._lrspec_base_lr)
            lr = lr_value * scale * g.multiplier(t)
            grads_ = [grad if mult == 1.0 else grad * mult for grad, _, _ in members]
            _torch_foreach.foreach_update(
                self._lrspec_families[gi], [var.value for _, var, _ in members], grads_,
                [{n: v.value for n, v in self._lrspec_state[idx].items()} for _, _, idx in members],
                [None if self._lrspec_steps[idx] is None else self._lrspec_steps[idx].value for _, _, idx in members],
                lr, g.weight_decay, g.hyperparameters)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.pop("weight_decay", None)
        names = list(self._lrspec_names) if getattr(self, "built", False) else self._lrspec_saved_names
        config.update(
            {
                "groups": [g.to_dict() for g in self._lrspec_groups],
                "base_lr": self._lrspec_base_lr,
                "strategy": self._lrspec_strategy,
                "variable_names": None if names is None else list(names),
            }
        )
        if self._lrspec_ns_dtype is not None:
            config["newton_schulz_dtype"] = self._lrspec_ns_dtype
        return config

    def describe_variables(self) -> list[tuple[str, str]]:
        """(canonical name, plan group) for every variable the optimizer was built with."""
        if not getattr(self, "built", False):
            return []
        return [(n, self._lrspec_groups[gi].name) for n, gi in zip(self._lrspec_names, self._lrspec_var_group)]


_DOCS = {
    "sgd": ("TorchSGD", "torch.optim.SGD per plan group: coupled wd, momentum with dampening, Nesterov."),
    "adam": ("TorchAdam", "torch.optim.Adam per plan group: coupled wd, eps after the bias correction, AMSGrad."),
    "adamw": ("TorchAdamW", "torch.optim.AdamW per plan group: ``p *= 1 - lr*wd``, then the Adam step."),
    "rmsprop": ("TorchRMSprop", "torch.optim.RMSprop per plan group: eps outside the sqrt, lr outside the momentum."),
    "adagrad": ("TorchAdagrad", "torch.optim.Adagrad per plan group: eps outside the sqrt, lr_decay per step."),
    "nadam": ("TorchNAdam", "torch.optim.NAdam per plan group (momentum_decay, decoupled_weight_decay)."),
    "radam": ("TorchRAdam", "torch.optim.RAdam per plan group (rectification, decoupled_weight_decay)."),
    "adamax": ("TorchAdamax", "torch.optim.Adamax per plan group (infinity norm)."),
    "adadelta": ("TorchAdadelta", "torch.optim.Adadelta per plan group."),
    "adafactor": ("TorchAdafactor", "torch.optim.Adafactor per plan group (factored second moments)."),
    "muon": ("TorchMuon", "torch.optim.Muon per plan group (Newton-Schulz orthogonalised momentum, 2-D only)."),
}


def _make(family: str) -> type[LrspecOptimizer]:
    cls_name, doc = _DOCS[family]
    cls = type(cls_name, (LrspecOptimizer,), {"family": family, "__doc__": doc, "__module__": __name__})
    return keras.saving.register_keras_serializable(package="lrspec")(cls)  # type: ignore[no-any-return]


FAMILY_CLASSES: dict[str, type[LrspecOptimizer]] = {f: _make(f) for f in _DOCS}
"""family -> its optimizer class (registered with Keras as ``lrspec>TorchAdam`` etc.)."""

TorchSGD = FAMILY_CLASSES["sgd"]
TorchAdam = FAMILY_CLASSES["adam"]
TorchAdamW = FAMILY_CLASSES["adamw"]
TorchRMSprop = FAMILY_CLASSES["rmsprop"]
TorchAdagrad = FAMILY_CLASSES["adagrad"]
TorchNAdam = FAMILY_CLASSES["nadam"]
TorchRAdam = FAMILY_CLASSES["radam"]
TorchAdamax = FAMILY_CLASSES["adamax"]
TorchAdadelta = FAMILY_CLASSES["adadelta"]
TorchAdafactor = FAMILY_CLASSES["adafactor"]
TorchMuon = FAMILY_CLASSES["muon"]
__all__ += [cls.__name__ for cls in FAMILY_CLASSES.values()]
