"""Compiling a plan for TensorFlow: variables, the Keras optimizer (``tf``) and graph ops (``tf-v1``)."""

from __future__ import annotations

from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec_tf._common import canonical_name

__all__ = ["compile_keras", "compile_v1", "param_shapes", "variables_of"]


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


def param_shapes(model: Any) -> dict[str, tuple[int, ...] | None]:
    names: dict[str, tuple[int, ...] | None] = {}
    for v in variables_of(model):
        n = canonical_name(v)
        if n in names:
            raise TargetError(
                f"two different variables have the canonical name {n!r}; give the layers unique names "
                "(tf.Variable names of nested Keras layers are not unique, variable.path is)"
            )
        shape = getattr(v, "shape", None)
        try:
            names[n] = None if shape is None else tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            names[n] = None
    return names


_TF_OPTIONS = ("native", "strategy", "allow_inexact")


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
    variables = variables_of(model)
    frozen = set(plan.frozen_params)
    trainable = [v for v in variables if canonical_name(v) not in frozen]
    strategy = options.get("strategy") or "multiplier"
    if options.get("native"):
        if strategy != "multiplier":
            raise TargetError("native=True cannot be combined with strategy='gradient-scale'")
        from lrspec_tf.native import build_native

        native_opt, native_report = build_native(plan, variables, name=options.get("name"))
        return CompiledTF(native_opt, trainable, plan, "native", native_report)
    report: list[str] = []
    if strategy == "gradient-scale":
        report = check_gradient_scale(plan, bool(options.get("allow_inexact", False)))
    elif strategy != "multiplier":
        raise TargetError(f"unknown strategy {strategy!r}; use 'multiplier' (default) or 'gradient-scale'")
    cls = FAMILY_CLASSES[plan.family]
    opt = cls(list(plan.groups), base_lr=plan.optimizer.lr, strategy=strategy, name=options.get("name"))
    # built with every variable (frozen ones get no state), so that model.fit, which passes
    # model.trainable_variables, and loops over compiled.trainable_variables both work
    opt.build(variables)
    return CompiledTF(opt, trainable, plan, strategy, report)


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
    return CompiledV1(plan, variables_of(model), strategy=strategy, report=report, name=options.get("name") or "lrspec")
