"""lrspec's PyTorch target (``target="torch"``).

``lrspec.compile(spec, model, target="torch")`` returns a :class:`CompiledTorch` with
``.optimizer`` (a plain ``torch.optim`` optimizer, one param group per trainable plan group;
for a plan with a family per group one :class:`HybridOptimizer` stepping a stock optimizer per family),
``.scheduler`` (a :class:`PlanScheduler`: closed-form ``lr(t)``, owns freezes, plain-data
state), ``.plan`` and ``.describe()``. See :mod:`lrspec_torch.target` for the semantics.

Importing this package does not import torch (the registry inspects it cheaply); the names
below are loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TARGET", "CompiledTorch", "HybridOptimizer", "MuonNS", "PlanScheduler", "TorchTarget"]

_LAZY = {
    "TARGET": "lrspec_torch.target",
    "TorchTarget": "lrspec_torch.target",
    "CompiledTorch": "lrspec_torch.compiled",
    "PlanScheduler": "lrspec_torch.scheduler",
    "HybridOptimizer": "lrspec_torch.hybrid",
    "MuonNS": "lrspec_torch.muon",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrspec_torch' has no attribute {name!r}")
