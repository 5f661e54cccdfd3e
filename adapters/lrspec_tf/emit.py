"""``--emit python --target keras`` (or ``tf``): a self-contained Keras 3 module for one plan.

Used by the ``keras`` target and its alias ``tf`` (TensorFlow backend); ``tf-v1`` emits no code.
The generated module imports only TensorFlow, Keras and NumPy (a TensorFlow dependency) and
defines ``build(model, newton_schulz_dtype=None)``, which returns a built Keras optimizer
implementing torch's update rule per variable, each with its plan group's family (a plan may
mix families, e.g. muon for the matrices and adamw for the rest). The update math is not
rewritten here: the source of ``lrspec_tf.rules_families`` and ``lrspec_tf.rules`` (the tf
adapter's torch rules, "the one place the math lives") and the float64 schedules of
``lrspec_tf.schedules`` (``schedule_from_dict`` and its helpers, fed each group's schedule in
its JSON form) are inlined with :func:`inspect.getsource`. Around them, the generated
optimizer does what the adapter's ``LrspecOptimizer`` does:

* lr of a variable at update t = plan group lr * m(t), with t = ``optimizer.iterations``;
* a per-variable step counter (torch's ``state['step']``), slots from ``slot_specs(family,
  hyperparameters, ndim=variable's ndim)`` shaped by ``slot_shape`` (adafactor's factored
  ``row_var``/``col_var``; nadam's ``mu_product`` a float64 scalar, as torch's Python float);
* muon's Newton-Schulz iteration in ``newton_schulz_dtype``: None (the default) = bfloat16 as
  torch's stock Muon and the compiled target, or ``"float32"`` / ``"float64"``;
* the update itself, step counter and freeze mask included: ``update_variable`` of the rules
  module (inlined with them), the very function the adapter calls: ``fused_apply`` (TF's fused
  kernels, where it has one and no distribution strategy is active) else ``apply_rule``;
  variables frozen until N are skipped (no update, no state, no weight decay) while
  ``iterations < N`` via ``tf.cond``;
* permanently frozen variables are never touched.

Variables are matched by the tf target's canonical names, its naming helpers inlined
(:data:`NAMING_HELPERS`): a variable of the model given to ``build(model)`` by its place in the
layer tree (``keras_variable_names``, where the adapter has it), any other by ``variable.path``
(or the tf.Variable name) through :func:`lrspec_tf._common.canonical_path` (a trailing ``:N``
removed, ``/`` -> ``.``).
"""

from __future__ import annotations

import ast
import inspect
import types

from lrspec.plan import Plan
from lrspec.tools.emit._common import docstring_lines, literal
from lrspec_tf import _common, rules, rules_families
from lrspec_tf import schedules as tf_schedules

__all__ = ["NAMING_HELPERS", "PREAMBLE", "RULE_MODULES", "SCHEDULE_HELPERS", "emit_module", "inlined_source"]

PREAMBLE = """from __future__ import annotations

import math  # noqa: F401  (used by some schedules)
from collections.abc import Callable, Mapping, Sequence  # noqa: F401
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np  # noqa: F401  (used by the inlined rules)
import tensorflow as tf

Tensor = Any
ScheduleOp = Callable[[Any], Any]"""
"""The imports and aliases the inlined adapter source needs (the generated module's header)."""

RULE_MODULES: tuple[types.ModuleType, ...] = (rules_families, rules)
"""The rule modules a generated module inlines whole (definitions and module-level constants,
imports dropped), in dependency order: ``rules`` calls the families of ``rules_families``."""

SCHEDULE_HELPERS = ("_c", "_t64", "_floordiv", "_count_ge", "_sequence", "_linear", "schedule_from_dict")
"""The functions of :mod:`lrspec_tf.schedules` a generated module inlines."""

NAMING_HELPERS = tuple(n for n in ("strip_suffix", "canonical_path", "keras_variable_names") if hasattr(_common, n))
"""The functions of :mod:`lrspec_tf._common` a generated module inlines (the naming rule)."""

_RUNTIME = '''
_TREE_NAMES = {}  # id(variable) -> layer-tree name of the model given to build() (the tf target's rule)


def _canonical(variable):
    """The canonical name of a variable, as the tf target names it: its place in the model's
    layer tree when build(model) saw it, else its path (or tf.Variable name)."""
    if id(variable) in _TREE_NAMES:
        return _TREE_NAMES[id(variable)]
    path = getattr(variable, "path", None)
    if not isinstance(path, str) or not path:
        path = getattr(variable, "name", None)
    return canonical_path(str(path))


_INDEX = {name: gi for gi, g in enumerate(GROUPS) for name in g["params"]}


NEWTON_SCHULZ_DTYPES = (None, "bfloat16", "float32", "float64")


def _check_newton_schulz_dtype(newton_schulz_dtype):
    if newton_schulz_dtype not in NEWTON_SCHULZ_DTYPES:
        raise ValueError(
            "newton_schulz_dtype must be None (bfloat16, as torch), 'bfloat16', 'float32' or 'float64', "
            f"got {newton_schulz_dtype!r}"
        )
    return newton_schulz_dtype


class TorchRuleOptimizer(keras.optimizers.Optimizer):
    """Keras optimizer applying torch.optim's rule for each variable's plan group family with the
    group's lr, weight decay, hyperparameters, schedule and freeze. ``newton_schulz_dtype``:
    muon's Newton-Schulz iteration dtype (None: bfloat16, as torch's stock Muon)."""

    def __init__(self, newton_schulz_dtype=None, name="lrspec_generated", **kwargs):
        super().__init__(learning_rate=1.0, name=name, **kwargs)
        self.newton_schulz_dtype = _check_newton_schulz_dtype(newton_schulz_dtype)

    def build(self, variables):
        if self.built:
            return
        variables = list(variables)
        groups = []
        for var in variables:
            name = _canonical(var)
            if name not in _INDEX:
                raise ValueError(f"variable {name!r} is not in the plan; regenerate this file for this model")
            groups.append(_INDEX[name])
        super().build(variables)
        self._group_of, self._slots, self._steps = groups, [], []
        for var, gi in zip(variables, groups):
            g = GROUPS[gi]
            family, hyper = g["family"], g["hyperparameters"]
            slots, step = {}, None
            if not g["frozen"]:
                label = str(getattr(var, "path", None) or _canonical(var)).replace("/", "_")
                for s in slot_specs(family, hyper, ndim=len(var.shape)):
                    init = "zeros" if s.initial == 0.0 else keras.initializers.Constant(s.initial)
                    if s.shape == "param" and s.dtype is None:
                        slots[s.name] = self.add_variable_from_reference(var, name=s.name, initializer=init)
                    else:  # adafactor's factors, nadam's float64 scalar mu_product
                        slots[s.name] = self.add_variable(
                            shape=tuple(slot_shape(s, var.shape)), dtype=s.dtype or var.dtype, initializer=init,
                            name=f"{label}_{s.name}",
                        )
                if needs_step(family, hyper):
                    step = self.add_variable(shape=(), dtype="int64", name=f"{label}_step")
            self._slots.append(slots)
            self._steps.append(step)

    def update_step(self, gradient, variable, learning_rate):
        idx = self._get_variable_index(variable)
        gi = self._group_of[idx]
        g = GROUPS[gi]
        if g["frozen"]:
            return
        it = self._iterations
        t = tf.convert_to_tensor(it.value if isinstance(it, keras.Variable) else it)
        lr = tf.constant(g["lr"], tf.float64) * SCHEDULES[gi](t)
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        grad = tf.cast(gradient, variable.dtype)
        update_variable(
            g["family"], variable, grad, self._slots[idx], lr, self._steps[idx], g["weight_decay"],
            g["hyperparameters"], g["frozen_until"], t, self.newton_schulz_dtype,
        )


def build(model, newton_schulz_dtype=None):
    """A built TorchRuleOptimizer for ``model`` (a Keras model whose variable paths are the
    plan's names). Use it like any Keras optimizer: apply_gradients, or model.compile(optimizer=...).
    ``newton_schulz_dtype``: muon's Newton-Schulz iteration dtype, None (bfloat16, as torch's
    stock Muon and the compiled target) or "float32" / "float64"."""
    _check_newton_schulz_dtype(newton_schulz_dtype)
    variables = list(model.trainable_variables)
    if "keras_variable_names" in globals() and hasattr(model, "_layers"):
        _TREE_NAMES.update(keras_variable_names(model))
    names = [_canonical(v) for v in variables]
    missing = [n for n in _INDEX if n not in set(names)]
    extra = [n for n in names if n not in _INDEX]
    if missing or extra:
        raise ValueError(
            "the model's variables are not the plan's: "
            + (f"missing from the model: {', '.join(missing[:10])}; " if missing else "")
            + (f"not in the plan: {', '.join(extra[:10])}; " if extra else "")
            + "regenerate this file for this model"
        )
    optimizer = TorchRuleOptimizer(newton_schulz_dtype=newton_schulz_dtype)
    optimizer.build(variables)
    return optimizer
'''


def _top_level_definitions(module: types.ModuleType) -> list[tuple[str, str]]:
    """``(name, source)`` of each top-level function, class and assignment of ``module``, in
    source order (decorators included; imports, the docstring and ``__all__`` dropped)."""
    source = inspect.getsource(module)
    lines = source.splitlines()
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        else:
            continue
        if name == "__all__":
            continue
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        out.append((name, "\n".join(lines[first - 1 : node.end_lineno])))
    return out


def inlined_source() -> str:
    """The inlined adapter source: every definition of :data:`RULE_MODULES` (the families of
    ``lrspec_tf.rules_families``, then ``lrspec_tf.rules``), the schedule helpers of
    ``lrspec_tf.schedules`` and the naming rule of ``lrspec_tf._common``. Raises ``ValueError``
    when two inlined modules define one name differently (they share one namespace)."""
    seen: dict[str, str] = {"Tensor": "Tensor = Any"}  # PREAMBLE's alias
    parts: list[str] = []

    def add(name: str, text: str) -> None:
        if name in seen:
            if seen[name] != text:
                raise ValueError(f"the inlined modules define {name!r} twice, differently")
            return
        seen[name] = text
        parts.extend([text.rstrip(), "", ""])

    for module in RULE_MODULES:
        parts.extend([f"# ---- inlined from {module.__name__} (the tf adapter's torch update rules) ----", "", ""])
        for name, text in _top_level_definitions(module):
            add(name, text)
    parts.extend([f"# ---- inlined from {tf_schedules.__name__} (float64 schedule helpers) ----", "", ""])
    for name in SCHEDULE_HELPERS:
        add(name, inspect.getsource(getattr(tf_schedules, name)))
    parts.extend([f"# ---- inlined from {_common.__name__} (the tf targets' variable names) ----", "", ""])
    for name in NAMING_HELPERS:
        add(name, inspect.getsource(getattr(_common, name)))
    return "\n".join(parts)


def emit_module(plan: Plan, header: str) -> str:
    """Source of the generated Keras module; ``header`` is its docstring's first paragraph
    (already escaped for a triple-quoted string)."""
    lines = [
        *docstring_lines(
            header,
            "Self-contained: needs only TensorFlow and Keras 3 (and NumPy, a TensorFlow dependency). Entry point: "
            "build(model, newton_schulz_dtype=None) -> optimizer; newton_schulz_dtype is muon's Newton-Schulz "
            "dtype (None: bfloat16, as torch's stock Muon; or 'float32' / 'float64').",
            "The update rules below are inlined from lrspec_tf.rules_families and lrspec_tf.rules "
            "(PyTorch's definitions); each group applies its own family.",
        ),
        PREAMBLE,
        f'FAMILY = {literal(plan.family)}  # the top-level optimizer type; each group has its own "family"',
        f"PLAN_FINGERPRINT = {literal(plan.fingerprint)}",
        "",
        "",
        inlined_source(),
        "# ---- the plan ----",
        "",
        "",
    ]
    lines.append("GROUPS = [")
    for g in plan.groups:
        hyper = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in g.hyperparameters.items())
        lines += [
            "    {",
            f'        "name": {literal(g.name)},',
            f'        "family": {literal(g.family)},',
            f'        "params": {literal(list(g.params))},',
            f'        "lr": {literal(g.lr)},',
            f'        "weight_decay": {literal(g.weight_decay)},',
            f'        "hyperparameters": {{{hyper}}},',
            f'        "frozen": {literal(g.frozen)},',
            f'        "frozen_until": {literal(g.frozen_until)},',
            "    },",
        ]
    lines += ["]", "SCHEDULES = ["]
    lines += [f"    schedule_from_dict({literal(g.schedule.model_dump(mode='json'))})," for g in plan.groups]
    lines += ["]", "", "", ""]
    return "\n".join(lines) + _RUNTIME.lstrip("\n")
