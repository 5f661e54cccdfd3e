"""The optimizer families of the spec format, their hyperparameters and torch's defaults.

A leaf module (imports nothing from lrspec) so that the models, the semantic checks, the
resolver, the reference and the targets can all use it without importing one another.

Names and defaults are torch 2.13's (``torch.optim.<Class>.__init__``). Pairs and triples
are tuples; adafactor's ``eps`` is the pair ``(eps1, eps2)`` whose ``eps1`` may be ``None``
(torch's default: ``None`` means "the dtype's machine epsilon").

Weight decay conventions (torch's): decoupled ``p *= 1 - lr*wd`` for adamw, muon and
adafactor, and for nadam/radam with ``decoupled_weight_decay=True``; coupled ``g += wd*p``
(L2 added to the gradient) for every other family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ALL_HYPERPARAMETERS",
    "FAMILIES",
    "FAMILY_DEFAULTS",
    "FAMILY_HYPERPARAMETERS",
    "FAMILY_NDIMS",
    "TORCH_CLASSES",
    "decoupled_weight_decay",
]

FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 1e-3, "weight_decay": 0.0, "momentum": 0.0, "dampening": 0.0, "nesterov": False},
    "adam": {"lr": 1e-3, "weight_decay": 0.0, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False},
    "adamw": {"lr": 1e-3, "weight_decay": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False},
    "rmsprop": {"lr": 1e-2, "weight_decay": 0.0, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False},
    "adagrad": {"lr": 1e-2, "weight_decay": 0.0, "lr_decay": 0.0, "eps": 1e-10, "initial_accumulator_value": 0.0},
    "nadam": {
        "lr": 2e-3,
        "weight_decay": 0.0,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
    },
    "radam": {"lr": 1e-3, "weight_decay": 0.0, "betas": (0.9, 0.999), "eps": 1e-8, "decoupled_weight_decay": False},
    "adamax": {"lr": 2e-3, "weight_decay": 0.0, "betas": (0.9, 0.999), "eps": 1e-8},
    "adadelta": {"lr": 1.0, "weight_decay": 0.0, "rho": 0.9, "eps": 1e-6},
    "adafactor": {"lr": 1e-2, "weight_decay": 0.0, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0},
    "muon": {
        "lr": 1e-3,
        "weight_decay": 0.1,
        "momentum": 0.95,
        "nesterov": True,
        "ns_coefficients": (3.4445, -4.775, 2.0315),
        "eps": 1e-7,
        "ns_steps": 5,
        "adjust_lr_fn": None,
    },
}
"""torch's defaults per family, lr and weight_decay included (``torch.optim`` 2.13)."""

FAMILIES: tuple[str, ...] = tuple(FAMILY_DEFAULTS)
"""Every optimizer family (spec ``optimizer.type`` values), in documentation order."""

FAMILY_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    family: tuple(k for k in defaults if k not in ("lr", "weight_decay"))
    for family, defaults in FAMILY_DEFAULTS.items()
}
"""Family hyperparameters (besides lr and weight_decay) by optimizer type, torch's names:
exactly the keys of ``PlanGroup.hyperparameters``."""

ALL_HYPERPARAMETERS: tuple[str, ...] = tuple(sorted({n for names in FAMILY_HYPERPARAMETERS.values() for n in names}))
"""Every family hyperparameter name, sorted."""

FAMILY_NDIMS: dict[str, tuple[int, ...]] = {"muon": (2,)}
"""Families that take only parameters of some numbers of dimensions (torch.optim.Muon: 2-D)."""

TORCH_CLASSES: dict[str, str] = {
    "sgd": "torch.optim.SGD",
    "adam": "torch.optim.Adam",
    "adamw": "torch.optim.AdamW",
    "rmsprop": "torch.optim.RMSprop",
    "adagrad": "torch.optim.Adagrad",
    "nadam": "torch.optim.NAdam",
    "radam": "torch.optim.RAdam",
    "adamax": "torch.optim.Adamax",
    "adadelta": "torch.optim.Adadelta",
    "adafactor": "torch.optim.Adafactor",
    "muon": "torch.optim.Muon",
}
"""The torch class that defines each family's update."""

_ALWAYS_DECOUPLED = frozenset({"adamw", "muon", "adafactor"})


def decoupled_weight_decay(family: str, hyperparameters: Mapping[str, Any]) -> bool:
    """True when ``family`` decays decoupled (``p *= 1 - lr*wd``): adamw, muon, adafactor always;
    nadam and radam when ``hyperparameters["decoupled_weight_decay"]`` is true. Otherwise the
    decay is coupled (``g += wd*p``)."""
    if family in _ALWAYS_DECOUPLED:
        return True
    if family in ("nadam", "radam"):
        return bool(hyperparameters.get("decoupled_weight_decay", False))
    return False
