"""The top-level functions: ``load`` -> ``resolve`` -> ``compile``."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from lrspec.errors import SpecError
from lrspec.resolve import resolve
from lrspec.spec.loader import load
from lrspec.spec.models import Spec
from lrspec.spec.validation import validate
from lrspec.targets import get_target

__all__ = ["SpecLike", "as_spec", "compile"]

SpecLike = Spec | Mapping[str, Any] | str | os.PathLike[str]


def as_spec(spec: SpecLike) -> Spec:
    """A :class:`Spec` from a Spec, a dict (validated by :func:`lrspec.validate`), or a path to a
    .json/.yaml file (:func:`lrspec.load`). Anything else is a :class:`SpecError`."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        return validate(dict(spec))
    if isinstance(spec, (str, os.PathLike)):
        return load(spec)
    raise SpecError(f"expected a Spec, a dict or a path to a spec file, got {type(spec).__name__}")


def compile(spec: SpecLike, model: Any, target: str = "torch", **options: Any) -> Any:
    """Compile ``spec`` for ``model`` with the named target: load -> resolve -> compile.

    ``model`` is whatever the target takes (a ``torch.nn.Module``, a Keras model, ...); a
    one-shot iterator (``model.named_parameters()``) is read once into a list, since it is
    read twice (for the names, then to compile). Unknown or uninstalled targets raise
    :class:`lrspec.TargetError` naming the extra to install.
    """
    if isinstance(model, Iterator):
        model = list(model)
    backend = get_target(target)
    return backend.compile(resolve(as_spec(spec), backend.parameters(model)), model, **options)
