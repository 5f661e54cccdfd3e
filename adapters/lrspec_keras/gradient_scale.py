"""The ``gradient-scale`` strategy: which plans it expresses exactly (pure Python, no framework).

Scaling a variable's gradient by ``alpha`` equals multiplying its lr by ``alpha`` only when the
update is linear in the gradient and nothing else enters it:

* **exact**: sgd, with or without momentum/dampening/Nesterov (``b`` and ``p`` move linearly
  in ``g``), when the scaled group has no weight decay (coupled ``wd*p`` is not scaled), and
  every trainable group shares one schedule (one optimizer runs at ``base_lr * m(t)``);
* **not exact**: the adaptive families (adam, adamw, rmsprop, adagrad, ...) normalise the
  gradient's scale (``m/sqrt(v)``), so a multiplier is almost entirely ignored (measured: a
  multiplier of 0.1 changes torch Adam's update by 2e-5 of its displacement instead of 10x);
  weight decay is never scaled.

:func:`check_gradient_scale` enforces these rules with a :class:`lrspec.TargetError` that says
why, unless ``allow_inexact=True``; differing schedules are always refused (one optimizer has
one schedule). ``lrspec_tf.lr_mult`` is the TensorFlow ``custom_gradient`` idiom.
"""

from __future__ import annotations

from lrspec.errors import TargetError
from lrspec.plan import Plan

__all__ = ["check_gradient_scale", "gradient_multiplier", "lr_and_gradient_multiplier"]

_NAMES = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad", "sgd": "SGD"}


def gradient_multiplier(group_lr: float, base_lr: float) -> float:
    """The factor a group's gradients are multiplied by under gradient-scale: ``group.lr / base_lr``."""
    return group_lr / base_lr


def lr_and_gradient_multiplier(strategy: str, group_lr: float, base_lr: float) -> tuple[float, float]:
    """(the lr a group's update uses before its schedule, the factor its gradient is multiplied by).

    ``"multiplier"`` (the default): ``(group.lr, 1.0)``; ``"gradient-scale"``: one optimizer at
    ``base_lr``, so ``(base_lr, group.lr / base_lr)``. The Keras optimizers and the tf-v1 builder
    both use this, then :func:`scale_gradient`.
    """
    if strategy == "gradient-scale":
        return base_lr, gradient_multiplier(group_lr, base_lr)
    return group_lr, 1.0


def check_gradient_scale(plan: Plan, allow_inexact: bool = False) -> list[str]:
    """Validate ``plan`` for the gradient-scale strategy. Returns notes for the compiled object's
    report; raises :class:`TargetError` when the plan cannot be expressed, or cannot be expressed
    exactly and ``allow_inexact`` is false."""
    base = float(plan.optimizer.lr)
    trainable = plan.trainable_groups
    if not trainable:
        return ["gradient-scale: every variable is frozen"]
    schedules = {g.schedule.model_dump_json() for g in trainable}
    if len(schedules) > 1:
        names = ", ".join(f"{g.name!r}" for g in trainable)
        raise TargetError(
            f"strategy='gradient-scale' runs one optimizer with one schedule, but the trainable groups "
            f"({names}) use {len(schedules)} different schedules; use the default strategy"
        )
    problems: list[str] = []
    for g in trainable:
        family = g.family or plan.family
        mult = gradient_multiplier(g.lr, base)
        if mult == 1.0:
            continue
        if family != "sgd":
            problems.append(
                f"{_NAMES.get(family, family)} normalises gradient scale; a gradient multiplier of {mult:g} (group {g.name!r}) "
                f"would change the update by < 0.1 % instead of scaling it by {mult:g}"
            )
        elif g.weight_decay != 0.0:
            problems.append(
                f"group {g.name!r} has weight decay {g.weight_decay:g}, which a gradient multiplier of {mult:g} "
                "does not scale (coupled wd*p is added after the gradient), so its update is not lr-scaled"
            )
    if problems and not allow_inexact:
        raise TargetError(
            "strategy='gradient-scale' is not exact for this spec: "
            + "; ".join(problems)
            + "; use the default strategy (strategy='multiplier'), or pass allow_inexact=True to accept this"
        )
    notes = [f"gradient-scale: one optimizer at lr {base:g}; gradients multiplied by group lr / {base:g}"]
    notes += [f"INEXACT: {p}" for p in problems]
    return notes
