"""lrspec's PyTorch target (``target="torch"``).

``lrspec.compile(spec, model, target="torch")`` returns a :class:`CompiledTorch` with
``.optimizer`` (a plain ``torch.optim`` optimizer, one param group per trainable plan group),
``.scheduler`` (a :class:`PlanScheduler`: closed-form ``lr(t)``, owns freezes, plain-data
state), ``.plan`` and ``.describe()``. See :mod:`lrspec_torch.target` for the semantics.
"""

from lrspec_torch.compiled import CompiledTorch
from lrspec_torch.scheduler import PlanScheduler
from lrspec_torch.target import TARGET, TorchTarget

__all__ = ["TARGET", "CompiledTorch", "PlanScheduler", "TorchTarget"]
