"""``lrspec verify`` for torch: synthetic ``nn.Parameter`` objects stepped by a compiled plan.

:class:`TorchDriver` implements :class:`lrspec.targets.VerifyDriver`. It creates one
``nn.Parameter`` of ``options["dtype"]`` (``"float32"``, the default, or ``"float64"``) per plan name (named by the plan name, which :func:`lrspec_torch.names.canonical_name`
leaves as it is), compiles through ``target.compile(plan, [(name, parameter), ...], **options)``
(``options`` without ``dtype``: the parameters' dtype is the optimizer's dtype in torch)
and drives the result as a training loop does: gradients on the parameters the optimizer
holds, ``optimizer.step()``, ``scheduler.step()``, ``optimizer.zero_grad(set_to_none=True)``.
Any target whose ``compile`` returns an object with ``.optimizer`` (a ``torch.optim``
optimizer) and ``.scheduler`` can reuse it by passing itself as ``target``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from lrspec.plan import Plan
from lrspec.targets import Array, Target

__all__ = ["TorchDriver"]


class TorchDriver:
    """A compiled torch optimizer over synthetic parameters (see the module docstring)."""

    def __init__(self, target: Target, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> None:
        compile_options = dict(options)
        self.dtype = np.dtype(compile_options.pop("dtype", "float32"))
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype}")
        self.params = [
            (n, torch.nn.Parameter(torch.from_numpy(np.array(init[n], dtype=self.dtype)))) for n in plan.names
        ]
        self.compiled = target.compile(plan, self.params, **compile_options)
        optimizer = self.compiled.optimizer
        in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
        self.trainable = [(n, p) for n, p in self.params if id(p) in in_optimizer]

    def step(self, grads: Mapping[str, Array]) -> None:
        """One update with ``grads`` (only the optimizer's parameters get theirs), then one schedule
        step. In float64 torch's default dtype is float64 during the step, as in a float64
        program (``torch.set_default_dtype(torch.float64)``): optimizers create their scalar
        state in it (NAdam's ``mu_product`` would otherwise be a float32 tensor)."""
        for n, p in self.trainable:
            p.grad = torch.from_numpy(np.array(grads[n], dtype=self.dtype))
        before = torch.get_default_dtype()
        if self.dtype == np.float64:
            torch.set_default_dtype(torch.float64)
        try:
            self.compiled.optimizer.step()
            self.compiled.scheduler.step()
        finally:
            torch.set_default_dtype(before)
        self.compiled.optimizer.zero_grad(set_to_none=True)

    def values(self) -> dict[str, Array]:
        """Every plan parameter's current value."""
        return {n: p.detach().cpu().numpy().copy() for n, p in self.params}

    def close(self) -> None:
        """Nothing to release."""
