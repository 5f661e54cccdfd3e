"""Reference optimizers: NumPy float64 update rules exactly as ``torch.optim`` defines them.

This module is the definition of every update lrspec compiles; each adapter is tested
against it. It uses NumPy and the standard library only.

Conventions
-----------
* ``t`` counts the updates already applied to the model; the first update uses ``t = 0``.
  The lr of a parameter at update ``t`` is ``plan.group_of(name).lr_at(t)``.
* ``s`` is a parameter's own step count: 1 at the first update it actually takes (a
  parameter without a gradient, or frozen, takes no update and its ``s`` does not advance).
* ``g`` below is the gradient after coupled weight decay: ``g = grad + wd * p`` (torch adds
  it only when ``wd != 0``); the decoupled families (adamw, muon, adafactor, and nadam/radam
  with ``decoupled_weight_decay``) instead do ``p *= 1 - lr * wd`` before the step
  (:func:`lrspec.spec.families.decoupled_weight_decay`).
* The arithmetic follows torch's single-tensor (``foreach=False``) code path operation by
  operation (``lerp``, ``addcmul``, ``addcdiv`` and bias corrections computed as Python
  floats), so float64 results agree with torch float64 to about 1e-15 relative (torch's
  CPU kernels may fuse a multiply-add, NumPy does not; reductions and matrix products may
  sum in another order).
* Scalars torch keeps as tensors (NAdam's ``mu_product``) are float64 here; torch keeps them
  in float32 unless ``torch.get_default_dtype()`` is float64.
* Muon's Newton-Schulz iteration runs in float64 (:func:`newton_schulz`), the exact math;
  torch runs it in bfloat16. "Equal" for muon is defined by
  :data:`BF16_UPDATE_RTOL` and :data:`BF16_MAX_CONDITION` (:mod:`lrspec.reference.muon`,
  docs/families.md).
* Adafactor's ``eps1 = None`` means the machine epsilon of the run's dtype (torch's
  ``finfo(param.dtype).eps``): ``run_dtype`` of :class:`ReferenceOptimizer` / :func:`update`.

API
---
* :class:`OptimizerState`: per-parameter state, ``step`` (= s after the update) and
  ``buffers`` keyed by torch's state names (``momentum_buffer``, ``exp_avg``,
  ``exp_avg_sq``, ``max_exp_avg_sq``, ``square_avg``, ``grad_avg``, ``sum``).
* :func:`init_state`: fresh state as torch creates it.
* :func:`sgd_step`, :func:`adam_step`, :func:`adamw_step`, :func:`rmsprop_step`,
  :func:`adagrad_step`, :func:`nadam_step`, :func:`radam_step`, :func:`adamax_step`,
  :func:`adadelta_step`, :func:`adafactor_step`, :func:`muon_step`: one update of one
  parameter; they return the new parameter array (the input is not modified) and update
  ``state`` in place. :func:`newton_schulz` is Muon's orthogonalisation.
* :func:`update`: dispatch by family name with a hyperparameter mapping
  (:attr:`lrspec.PlanGroup.hyperparameters`).
* :class:`ReferenceOptimizer`: steps a whole :class:`~lrspec.Plan` (groups, each with its
  own family, schedules, freezes, skipped gradients); :func:`simulate` runs it over a list of gradients.
"""

from lrspec.reference.muon import BF16_MAX_CONDITION, BF16_UPDATE_RTOL
from lrspec.reference.optimizer import ReferenceOptimizer, simulate
from lrspec.reference.rules import (
    FAMILIES,
    STEP_FUNCTIONS,
    OptimizerState,
    adadelta_step,
    adafactor_step,
    adagrad_step,
    adam_step,
    adamax_step,
    adamw_step,
    init_state,
    muon_step,
    nadam_step,
    newton_schulz,
    radam_step,
    rmsprop_step,
    sgd_step,
    update,
)

__all__ = [
    "BF16_MAX_CONDITION",
    "BF16_UPDATE_RTOL",
    "FAMILIES",
    "STEP_FUNCTIONS",
    "OptimizerState",
    "ReferenceOptimizer",
    "adadelta_step",
    "adafactor_step",
    "adagrad_step",
    "adam_step",
    "adamax_step",
    "adamw_step",
    "init_state",
    "muon_step",
    "nadam_step",
    "newton_schulz",
    "radam_step",
    "rmsprop_step",
    "sgd_step",
    "simulate",
    "update",
]
