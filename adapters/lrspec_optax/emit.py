"""``--emit python --target optax``: a standalone module implementing one plan with optax.

The generated module imports only ``math``, ``jax`` and ``optax`` (no lrspec): it inlines the
optax runtime (:mod:`lrspec_optax._names`, :mod:`lrspec_optax._schedules`,
:mod:`lrspec_optax._muon`, :mod:`lrspec_optax._rules_adaptive`, :mod:`lrspec_optax._rules`,
:mod:`lrspec_optax._transform`) verbatim and holds the plan as
plain data (``CONFIG``). Its entry point ``build(mode="auto")`` returns the
``optax.GradientTransformation``; a state of another plan raises its ``CheckpointError``.
"""

from __future__ import annotations

import inspect
import pprint
import re
from types import ModuleType

from lrspec.plan import Plan

__all__ = ["RUNTIME_MODULES", "emit_module", "runtime_source"]

RUNTIME_MODULES = ("_names", "_schedules", "_muon", "_rules_adaptive", "_rules", "_transform")

_IMPORTS = re.compile(r"# <runtime-imports>\n.*?# </runtime-imports>\n", re.S)

_HEAD = """from __future__ import annotations

import math  # noqa: F401  (used by the schedules)

import jax
import jax.numpy as jnp
import optax
"""

_TAIL = '''

class CheckpointError(ValueError):
    """The optimizer state belongs to another plan."""


class PlanMismatchError(ValueError):
    """The parameter pytree is not the plan's."""


def build(mode="auto"):
    """The plan's ``optax.GradientTransformation``: ``state = tx.init(params)``,
    ``updates, state = tx.update(grads, state, params)``, ``optax.apply_updates``.
    ``mode``: "auto" (optax's transforms where exact), "optax" or "lrspec"."""
    return build_transformation(CONFIG, mode=mode, checkpoint_error=CheckpointError, name_error=PlanMismatchError)
'''


def _body(module: ModuleType) -> str:
    src = inspect.getsource(module)
    return _IMPORTS.sub("", src[src.index("# <runtime-imports>") :]).strip("\n")


def runtime_source() -> str:
    """The runtime modules' code, import blocks removed, in dependency order."""
    import importlib

    parts = [_body(importlib.import_module(f"lrspec_optax.{m}")) for m in RUNTIME_MODULES]
    return "\n\n\n".join(parts)


def emit_module(plan: Plan, header: str) -> str:
    """Source of the generated module; ``header`` is its docstring's first paragraph."""
    from lrspec_optax.builder import plan_config

    config = pprint.pformat(plan_config(plan), width=110, sort_dicts=False)
    doc = (
        f'"""{header}\n\nSelf-contained: needs only jax and optax. Entry point: build() -> optax.GradientTransformation.\n'
        'Leaf names are pytree key paths joined by "." (sequence indices as integers).\n"""\n'
    )
    return f"{doc}\n{_HEAD}\n\n{runtime_source()}\n\n\nCONFIG = {config}\n{_TAIL}"
