"""Compiling a plan for Keras 3 (target ``keras``, alias ``tf``): variables, names, the optimizer.

Imports no framework at module level (``tf-v1`` reuses :func:`named_variables`)."""

from __future__ import annotations

from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec_keras._names import variable_names

__all__ = ["KERAS_OPTIONS", "compile_keras", "freeze_statistics_notes", "named_variables", "param_shapes", "variables_of"]


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
    (:func:`lrspec_keras._names.variable_names`: layer-tree names for a Keras model, stable across
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


KERAS_OPTIONS = ("native", "strategy", "allow_inexact", "newton_schulz_dtype")


def freeze_statistics_notes(plan: Plan, model: Any) -> list[str]:
    """Apply the plan's freeze_statistics groups (:mod:`lrspec_keras.statistics`); report notes."""
    if not any(g.freeze_statistics for g in plan.groups):
        return []
    from lrspec_keras.statistics import freeze_statistics

    layers = freeze_statistics(plan, model)
    return [f"freeze_statistics: {len(layers)} BatchNormalization layer(s) set to trainable=False (inference mode)"]


def compile_keras(plan: Plan, model: Any, target: str = "keras", **options: Any) -> Any:
    """Options: ``strategy`` (``"multiplier"``, the default, or ``"gradient-scale"``),
    ``allow_inexact`` (accept an inexact gradient-scale plan), ``native`` (a
    ``keras.optimizers.MultiOptimizer`` of stock optimizers), ``newton_schulz_dtype`` (muon:
    None = bfloat16 as torch, or ``"float32"``/``"float64"``), ``name`` (optimizer name).
    ``target``: the name the caller used (``keras`` or ``tf``), for messages."""
    from lrspec_keras.compiled import CompiledKeras
    from lrspec_keras.gradient_scale import check_gradient_scale
    from lrspec_keras.optimizers import FAMILY_CLASSES

    unknown = sorted(set(options) - {*KERAS_OPTIONS, "name"})
    if unknown:
        raise TargetError(
            f"target {target!r}: unknown option(s) {', '.join(unknown)}; known: {', '.join(KERAS_OPTIONS)}, name"
        )
    statistics = freeze_statistics_notes(plan, model)
    variables, names = named_variables(model)
    frozen = set(plan.frozen_params)
    trainable = [v for v, n in zip(variables, names) if n not in frozen]
    strategy = options.get("strategy") or "multiplier"
    if options.get("native"):
        if strategy != "multiplier":
            raise TargetError("native=True cannot be combined with strategy='gradient-scale'")
        from lrspec_keras.native import build_native

        native_opt, native_report = build_native(plan, variables, name=options.get("name"), names=names)
        return CompiledKeras(native_opt, trainable, plan, "native", native_report + statistics, target)
    report: list[str] = []
    if strategy == "gradient-scale":
        report = check_gradient_scale(plan, bool(options.get("allow_inexact", False)))
    elif strategy != "multiplier":
        raise TargetError(f"unknown strategy {strategy!r}; use 'multiplier' (default) or 'gradient-scale'")
    cls = FAMILY_CLASSES[plan.family]
    opt = cls(list(plan.groups), base_lr=plan.optimizer.lr, strategy=strategy, name=options.get("name"),
              newton_schulz_dtype=options.get("newton_schulz_dtype"))
    # built with every variable (frozen ones get no state), so that model.fit and the JAX
    # trainer, which pass model.trainable_variables, and loops over compiled.trainable_variables all work
    opt.build(variables, names=names)
    return CompiledKeras(opt, trainable, plan, strategy, report + statistics, target)
