"""``lrspec verify`` for torch: synthetic ``nn.Parameter`` objects stepped by a compiled plan.

:class:`TorchDriver` implements :class:`lrspec.targets.VerifyDriver`. It creates one float32
``nn.Parameter`` per plan name (named by the plan name, which :func:`lrspec_torch.names.canonical_name`
leaves as it is), compiles through ``target.compile(plan, [(name, parameter), ...], **options)``
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
        self.params = [
            (n, torch.nn.Parameter(torch.from_numpy(np.array(init[n], dtype=np.float32)))) for n in plan.names
        ]
        self.compiled = target.compile(plan, self.params, **dict(options))
        optimizer = self.compiled.optimizer
        in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
        self.trainable = [(n, p) for n, p in self.params if id(p) in in_optimizer]

    def step(self, grads: Mapping[str, Array]) -> None:
        """One update with ``grads`` (only the optimizer's parameters get theirs), then one schedule step."""
        for n, p in self.trainable:
            p.grad = torch.from_numpy(np.array(grads[n], dtype=np.float32))
        self.compiled.optimizer.step()
        self.compiled.scheduler.step()
        self.compiled.optimizer.zero_grad(set_to_none=True)

    def values(self) -> dict[str, Array]:
        """Every plan parameter's current value."""
        return {n: p.detach().cpu().numpy().copy() for n, p in self.params}

    def close(self) -> None:
        """Nothing to release."""
