"""Compiling a plan for ``tf-v1`` (graph ops). The Keras target (``keras``/``tf``) is
:mod:`lrspec_keras.builder`, whose names are re-exported here for old import paths."""

from __future__ import annotations

from typing import Any

from lrspec_keras.builder import compile_keras, named_variables, param_shapes, variables_of
from lrspec_keras.builder import freeze_statistics_notes as _freeze_statistics

from lrspec.errors import TargetError
from lrspec.plan import Plan

__all__ = ["compile_keras", "compile_v1", "named_variables", "param_shapes", "variables_of"]


def compile_v1(plan: Plan, model: Any, **options: Any) -> Any:
    """Options: ``strategy``, ``allow_inexact`` (as for ``tf``), ``name`` (a name scope),
    ``newton_schulz_dtype`` (muon, passed to :class:`lrspec_tf.v1.CompiledV1` when it takes it)."""
    from lrspec_tf.gradient_scale import check_gradient_scale
    from lrspec_tf.v1 import CompiledV1

    unknown = sorted(set(options) - {"strategy", "allow_inexact", "name", "newton_schulz_dtype"})
    if unknown:
        raise TargetError(
            f"target 'tf-v1': unknown option(s) {', '.join(unknown)}; known: strategy, allow_inexact, name, "
            "newton_schulz_dtype"
        )
    strategy = options.get("strategy") or "multiplier"
    report: list[str] = []
    if strategy == "gradient-scale":
        report = check_gradient_scale(plan, bool(options.get("allow_inexact", False)))
    elif strategy != "multiplier":
        raise TargetError(f"unknown strategy {strategy!r}; use 'multiplier' (default) or 'gradient-scale'")
    report += _freeze_statistics(plan, model)
    variables, names = named_variables(model)
    extra: dict[str, Any] = {}
    if options.get("newton_schulz_dtype") is not None:
        import inspect

        if "newton_schulz_dtype" not in inspect.signature(CompiledV1).parameters:
            raise TargetError("target 'tf-v1': this version has no muon, so newton_schulz_dtype cannot be set")
        extra["newton_schulz_dtype"] = options["newton_schulz_dtype"]
    return CompiledV1(plan, variables, strategy=strategy, report=report, name=options.get("name") or "lrspec",
                      names=names, **extra)
