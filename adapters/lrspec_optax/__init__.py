"""lrspec's optax target (``target="optax"``).

``lrspec.compile(spec, params, target="optax")`` returns a :class:`CompiledOptax` whose
``.optimizer`` is an ``optax.GradientTransformation`` implementing the plan with torch's update
rules, plus ``.plan``, ``.lrs(t)``, ``.describe()`` and ``.save_state``/``.load_state``. See
:mod:`lrspec_optax.target` and docs/optax.md.

Importing this package does not import jax (the registry inspects it cheaply); the names below
are loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TARGET", "CompiledOptax", "OptaxTarget", "PlanState"]

_LAZY = {
    "TARGET": "lrspec_optax.target",
    "OptaxTarget": "lrspec_optax.target",
    "CompiledOptax": "lrspec_optax.compiled",
    "PlanState": "lrspec_optax._transform",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrspec_optax' has no attribute {name!r}")
