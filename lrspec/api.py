"""The top-level functions: ``load`` -> ``resolve`` -> ``compile``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lrspec.errors import SpecError
from lrspec.spec.loader import load
from lrspec.spec.models import Spec

__all__ = ["as_spec", "compile"]

SpecLike = Spec | Mapping[str, Any] | str | os.PathLike[str]


def as_spec(spec: SpecLike) -> Spec:
    """A :class:`Spec` from a Spec, a dict, or a path to a .json/.yaml file."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        return Spec.model_validate(dict(spec))
    if isinstance(spec, (str, os.PathLike)):
        return load(spec)
    raise SpecError(f"expected a Spec, a dict or a path to a spec file, got {type(spec).__name__}")


def compile(spec: SpecLike, model: Any, target: str = "torch", **options: Any) -> Any:
    """Compile ``spec`` for ``model`` with the named target.

    Equivalent to ``get_target(target).compile(resolve(as_spec(spec), <model's parameters>), model, **options)``:
    load -> resolve -> compile. Unknown or uninstalled targets raise :class:`lrspec.TargetError`
    naming the extra to install.
    """
    from lrspec.targets import get_target

    return get_target(target).resolve_and_compile(as_spec(spec), model, **options)
