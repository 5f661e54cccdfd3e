"""The stock ``torch.optim`` class of each optimizer family and what torch keeps for it.

* :data:`FAMILY_CLASSES`: the class whose update defines the family (torch 2.13);
* :data:`STATE_KEYS`: the per-parameter state keys each class writes;
* :func:`state_shape`: the shape torch gives each state buffer (the parameter's shape, except
  Adafactor's factored second moments of a parameter with ``ndim >= 2``: ``row_var`` is the
  shape with the last dimension 1, ``col_var`` with the second-to-last dimension 1; and the
  scalars ``step`` / NAdam's ``mu_product``);
* implementations (2.13): fused kernels for sgd, adam, adamw, adagrad (adagrad on CPU only);
  a foreach (multi-tensor) implementation for every family except muon; muon has only its
  for-loop (its constructor takes neither ``foreach`` nor ``fused``).
"""

from __future__ import annotations

import torch

__all__ = [
    "FAMILY_CLASSES",
    "FOREACH_FAMILIES",
    "FUSED_CPU_ONLY",
    "FUSED_FAMILIES",
    "SCALAR_STATE",
    "STATE_KEYS",
    "state_shape",
]

FAMILY_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "adamax": torch.optim.Adamax,
    "adadelta": torch.optim.Adadelta,
    "adafactor": torch.optim.Adafactor,
    "muon": torch.optim.Muon,
}

FUSED_FAMILIES = frozenset({"sgd", "adam", "adamw", "adagrad"})
FUSED_CPU_ONLY = frozenset({"adagrad"})
FOREACH_FAMILIES = frozenset(FAMILY_CLASSES) - {"muon"}

#: the per-parameter state keys of each family's torch optimizer
STATE_KEYS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum_buffer"}),
    "adam": frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    "adamw": frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    "rmsprop": frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"}),
    "adagrad": frozenset({"step", "sum"}),
    "nadam": frozenset({"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    "radam": frozenset({"step", "exp_avg", "exp_avg_sq"}),
    "adamax": frozenset({"step", "exp_avg", "exp_inf"}),
    "adadelta": frozenset({"step", "square_avg", "acc_delta"}),
    "adafactor": frozenset({"step", "row_var", "col_var", "variance"}),
    "muon": frozenset({"momentum_buffer"}),
}

#: state entries that are scalars (a number or a one-element tensor), not buffers
SCALAR_STATE = frozenset({"step", "mu_product"})


def state_shape(family: str, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape torch gives state buffer ``key`` of a parameter of ``shape`` (see the module docstring)."""
    if family == "adafactor" and len(shape) >= 2 and key in ("row_var", "col_var"):
        out = list(shape)
        out[-1 if key == "row_var" else -2] = 1
        return tuple(out)
    return shape
