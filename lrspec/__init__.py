"""lrspec: per-parameter learning rates, freezes and schedules as a file, compiled to any framework.

The pipeline is ``load`` (file -> :class:`Spec`; ``validate`` for a dict) -> ``resolve`` (Spec + parameter names ->
:class:`Plan`) -> ``compile`` (Plan -> a target's native optimizer objects). ``import lrspec``
never imports torch or tensorflow; the adapters do, when a target is compiled.
"""

from lrspec import reference
from lrspec.api import as_spec, compile
from lrspec.errors import CheckpointError, LrSpecError, Problem, ResolveError, SpecError, TargetError
from lrspec.plan import ParamInfo, Plan, PlanGroup
from lrspec.resolve import resolve
from lrspec.resolve.params import ROLES, ModuleInfo, ParamMeta
from lrspec.spec.loader import load, load_text
from lrspec.spec.models import Spec
from lrspec.spec.validation import validate
from lrspec.targets import Target, available_targets, get_target
from lrspec.tools.verify import verify

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "LrSpecError",
    "ModuleInfo",
    "ParamInfo",
    "ParamMeta",
    "Plan",
    "PlanGroup",
    "Problem",
    "ROLES",
    "ResolveError",
    "Spec",
    "SpecError",
    "Target",
    "TargetError",
    "__version__",
    "as_spec",
    "available_targets",
    "compile",
    "get_target",
    "load",
    "load_text",
    "reference",
    "resolve",
    "validate",
    "verify",
]
