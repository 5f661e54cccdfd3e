"""The ``torch`` target: a Plan -> a ``torch.optim`` optimizer and a :class:`PlanScheduler`.

Usage::

    compiled = lrspec.compile("finetune.yaml", model, target="torch")
    opt, sched = compiled.optimizer, compiled.scheduler
    for x, y in loader:
        loss_fn(model(x), y).backward()
        opt.step(); sched.step(); opt.zero_grad()

Semantics (``t`` counts the updates already applied; the first update uses ``t = 0``):

* one param group per trainable plan group, carrying ``"name"``, ``"lr"``, ``"weight_decay"``
  and the family's hyperparameters; the scheduler sets ``lr`` to ``group.lr * m(t)``;
* permanently frozen parameters are left out of the optimizer and get
  ``requires_grad_(False)`` so backward skips them (``set_requires_grad=False`` opts out);
  for a model that is already DistributedDataParallel-wrapped they keep ``requires_grad``
  (DDP registered them at wrap time; turning it off afterwards breaks its reducer), so
  compile *before* wrapping to let backward skip them;
* parameters frozen until update ``N`` stay in the optimizer with ``requires_grad=True``;
  the scheduler discards their gradients at every ``optimizer.step()`` before ``N``
  (``skip_frozen_backward=True`` turns ``requires_grad`` off while frozen instead: single
  process only, refused for DDP/FSDP models because DDP never all-reduces a parameter whose
  ``requires_grad`` turns on after wrapping);
* order of wrapping: compile the plain model, then wrap it (``DDP(model)``); passing an
  already DDP-wrapped model also works (its ``module.`` prefix is stripped, permanent
  freezes keep ``requires_grad`` as said above, with a warning);
* FSDP: per-parameter groups need ``FSDP(..., use_orig_params=True)`` (FSDP1, which needs an
  accelerator) or FSDP2 ``fully_shard`` (tested on CPU: compile after sharding), which keep
  the original parameter names and tensors; FSDP1's flat parameters cannot carry per-parameter
  settings;
* tools: the optimizer and scheduler are plain torch objects, e.g. Lightning
  ``{"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}`` (the
  schedule counts updates, so ``interval`` must be ``"step"``) or HF Trainer
  ``optimizers=(opt, sched)``.

* families: the stock ``torch.optim`` class of the family (sgd, adam, adamw, rmsprop, adagrad,
  nadam, radam, adamax, adadelta, adafactor, muon: :data:`lrspec_torch.classes.FAMILY_CLASSES`);
  a plan whose groups use several families (a spec group with its own ``optimizer``) gets ONE
  :class:`lrspec_torch.hybrid.HybridOptimizer`, a ``torch.optim.Optimizer`` stepping one stock
  optimizer per family with a single ``param_groups`` list (the inner optimizers' own dicts),
  one ``state`` and one ``state_dict``; a single-family plan gets the stock optimizer itself.

Options: ``foreach`` / ``fused`` (passed to torch; by default lrspec picks ``fused=True``
where torch has a fused kernel for the family, device and dtype, else ``foreach=True``; muon
has only its for-loop), ``newton_schulz_dtype`` (None: torch's stock bfloat16 Muon;
``"float32"``/``"float64"``: :class:`lrspec_torch.muon.MuonNS`), ``set_requires_grad``
(default True), ``skip_frozen_backward`` (default False).

:meth:`TorchTarget.parameters` gives name -> :class:`lrspec.ParamMeta` (shape and owning module
with its class names and roles: :mod:`lrspec_torch.modules`) for an ``nn.Module``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from lrspec.plan import Plan
from lrspec.targets import Array, ParamShapes, Target, VerifyDriver

__all__ = ["TARGET", "TorchTarget"]


class TorchTarget(Target):
    """Target ``torch`` (see the module docstring). Importing this module does not import
    torch; each method imports what it needs."""

    name = "torch"
    extra = "lrspec[torch]"
    requires = ("torch",)
    model_description = "a torch.nn.Module"
    model_suffixes = (".pt", ".pth", ".bin", ".safetensors")

    def canonical_name(self, native_name: str) -> str:
        """``named_parameters()`` name -> lrspec name (:func:`lrspec_torch.names.canonical_name`)."""
        from lrspec_torch.names import canonical_name

        return canonical_name(native_name)

    def parameters(self, model: Any) -> ParamShapes:
        """Canonical name -> :class:`lrspec.ParamMeta` (shape, owning module) for every name of
        every parameter of an ``nn.Module`` (tied tensors under each name); name -> shape for
        (name, tensor) pairs (:func:`lrspec_torch.modules.param_meta`)."""
        from lrspec_torch.builder import param_shapes

        return param_shapes(model)

    def accepts(self, model: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        """Build the optimizer and scheduler of ``plan`` for ``model``
        (:func:`lrspec_torch.builder.compile_plan`)."""
        from lrspec_torch.builder import compile_plan

        return compile_plan(plan, model, **options)

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        from lrspec_torch.verify_driver import TorchDriver

        return TorchDriver(self, plan, init, options)

    def emit_python(self, plan: Plan, header: str) -> str:
        from lrspec_torch.emit import emit_module

        return emit_module(plan, header)

    def read_model_file(self, path: str) -> ParamShapes:
        from lrspec_torch.model_files import read_model_file

        return read_model_file(path)

    def example_models(self) -> Mapping[str, Callable[..., Any]]:
        from lrspec_torch.examples import EXAMPLES

        return EXAMPLES


TARGET = TorchTarget()
