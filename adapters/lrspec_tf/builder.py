"""Compiling a plan for TensorFlow: variables, the Keras optimizer (``tf``) and graph ops (``tf-v1``)."""

from __future__ import annotations

from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec_tf._common import variable_names

__all__ = ["compile_keras", "compile_v1", "named_variables", "param_shapes", "variables_of"]


def variables_of(model: Any) -> list[Any]:
    """The trainable variables of ``model`` (a Keras model/layer, a tf.Module or a list of variables),
    deduplicated by identity, in model order."""
    if model is None:
        raise TargetError("no model given: pass a Keras model, a tf.Module or a list of variables")
    if isinstance(model, (list, tuple)):
        items = list(model)
    elif hasattr(model, "trainable_variables"):
        items = list(model.trainable_variables)
    else:
        raise TargetError(
            f"cannot read variables from a {type(model).__name__}: pass a Keras model, a tf.Module "
            "or a list of variables"
        )
    out: list[Any] = []
    seen: set[int] = set()
    for v in items:
        if not (hasattr(v, "shape") and hasattr(v, "dtype") and hasattr(v, "assign")):
            raise TargetError(f"expected variables, got a {type(v).__name__}: {v!r}")
        if id(v) in seen:
            continue
        seen.add(id(v))
        out.append(v)
    if not out:
        raise TargetError(f"{type(model).__name__} has no trainable variables (is the model built?)")
    return out


def named_variables(model: Any) -> tuple[list[Any], list[str]]:
    """:func:`variables_of` ``model`` and their canonical names
    (:func:`lrspec_tf._common.variable_names`: layer-tree names for a Keras model, stable across
    ``load_model`` and processes); two variables with one name are a :class:`TargetError`."""
    variables = variables_of(model)
    names = variable_names(model, variables)
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise TargetError(
                f"two different variables have the canonical name {n!r}; give the layers unique names "
                "(tf.Variable names of nested Keras layers are not unique, layer names within one parent must be)"
            )
        seen.add(n)
    return variables, names


def param_shapes(model: Any) -> dict[str, tuple[int, ...] | None]:
    """Canonical name -> shape of every trainable variable of ``model``, in model order."""
    names: dict[str, tuple[int, ...] | None] = {}
    variables, cnames = named_variables(model)
    for v, n in zip(variables, cnames):
        shape = getattr(v, "shape", None)
        try:
            names[n] = None if shape is None else tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            names[n] = None
    return names


_TF_OPTIONS = ("native", "strategy", "allow_inexact")


def _freeze_statistics(plan: Plan, model: Any) -> list[str]:
    """Apply the plan's freeze_statistics groups (:mod:`lrspec_tf.statistics`); report notes."""
    if not any(g.freeze_statistics for g in plan.groups):
        return []
    from lrspec_tf.statistics import freeze_statistics

    layers = freeze_statistics(plan, model)
    return [f"freeze_statistics: {len(layers)} BatchNormalization layer(s) set to trainable=False (inference mode)"]


def compile_keras(plan: Plan, model: Any, **options: Any) -> Any:
    """Options: ``strategy`` (``"multiplier"``, the default, or ``"gradient-scale"``),
    ``allow_inexact`` (accept an inexact gradient-scale plan), ``native`` (a
    ``keras.optimizers.MultiOptimizer`` of stock optimizers), ``name`` (optimizer name)."""
    from lrspec_tf.compiled import CompiledTF
    from lrspec_tf.gradient_scale import check_gradient_scale
    from lrspec_tf.keras_optimizers import FAMILY_CLASSES

    unknown = sorted(set(options) - {*_TF_OPTIONS, "name"})
    if unknown:
        raise TargetError(f"target 'tf': unknown option(s) {', '.join(unknown)}; known: {', '.join(_TF_OPTIONS)}, name")
    statistics = _freeze_statistics(plan, model)
    variables, names = named_variables(model)
    frozen = set(plan.frozen_params)
    trainable = [v for v, n in zip(variables, names) if n not in frozen]
    strategy = options.get("strategy") or "multiplier"
    if options.get("native"):
        if strategy != "multiplier":
            raise TargetError("native=True cannot be combined with strategy='gradient-scale'")
        from lrspec_tf.native import build_native

        native_opt, native_report = build_native(plan, variables, name=options.get("name"), names=names)
        return CompiledTF(native_opt, trainable, plan, "native", native_report + statistics)
    report: list[str] = []
    if strategy == "gradient-scale":
        report = check_gradient_scale(plan, bool(options.get("allow_inexact", False)))
    elif strategy != "multiplier":
        raise TargetError(f"unknown strategy {strategy!r}; use 'multiplier' (default) or 'gradient-scale'")
    cls = FAMILY_CLASSES[plan.family]
    opt = cls(list(plan.groups), base_lr=plan.optimizer.lr, strategy=strategy, name=options.get("name"))
    # built with every variable (frozen ones get no state), so that model.fit, which passes
    # model.trainable_variables, and loops over compiled.trainable_variables both work
    opt.build(variables, names=names)
    return CompiledTF(opt, trainable, plan, strategy, report + statistics)


def compile_v1(plan: Plan, model: Any, **options: Any) -> Any:
    """Options: ``strategy``, ``allow_inexact`` (as for ``tf``), ``name`` (a name scope)."""
    from lrspec_tf.gradient_scale import check_gradient_scale
    from lrspec_tf.v1 import CompiledV1

    unknown = sorted(set(options) - {"strategy", "allow_inexact", "name"})
    if unknown:
        raise TargetError(
            f"target 'tf-v1': unknown option(s) {', '.join(unknown)}; known: strategy, allow_inexact, name"
        )
    strategy = options.get("strategy") or "multiplier"
    report: list[str] = []
    if strategy == "gradient-scale":
        report = check_gradient_scale(plan, bool(options.get("allow_inexact", False)))
    elif strategy != "multiplier":
        raise TargetError(f"unknown strategy {strategy!r}; use 'multiplier' (default) or 'gradient-scale'")
    report += _freeze_statistics(plan, model)
    variables, names = named_variables(model)
    return CompiledV1(plan, variables, strategy=strategy, report=report, name=options.get("name") or "lrspec",
                      names=names)
