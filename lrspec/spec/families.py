"""The optimizer families of the spec format and their hyperparameters (torch's names).

A leaf module (imports nothing from lrspec) so that the models, the semantic checks and the
error messages can all use it without importing one another.
"""

from __future__ import annotations

__all__ = ["ALL_HYPERPARAMETERS", "FAMILY_HYPERPARAMETERS"]

FAMILY_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "dampening", "nesterov"),
    "adam": ("betas", "eps", "amsgrad"),
    "adamw": ("betas", "eps", "amsgrad"),
    "rmsprop": ("alpha", "eps", "momentum", "centered"),
    "adagrad": ("lr_decay", "eps", "initial_accumulator_value"),
}
"""Family hyperparameters (besides lr and weight_decay) by optimizer type, torch's names."""

ALL_HYPERPARAMETERS: tuple[str, ...] = tuple(sorted({n for names in FAMILY_HYPERPARAMETERS.values() for n in names}))
"""Every family hyperparameter name, sorted."""
