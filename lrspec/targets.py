"""Compilation targets: where a Plan becomes native optimizer objects.

A target is a :class:`Target` instance. Lookup order for a name: the built-in table
(``torch``, ``tf``, ``tf-v1``: ``"module:attribute"`` strings, so a stale install's metadata
cannot break them), then the ``lrspec.targets`` entry-point group, which is how a third
party adds a target::

    [project.entry-points."lrspec.targets"]
    jax = "lrspec_jax:TARGET"

The loaded object must be a :class:`Target`; anything else is a :class:`lrspec.TargetError`.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import Plan

__all__ = ["BUILTIN_TARGETS", "Target", "TargetInfo", "available_targets", "get_target"]

ENTRY_POINT_GROUP = "lrspec.targets"


class Target(abc.ABC):
    """A compilation target.

    Subclasses set ``name``, ``extra`` (the pip extra that installs the framework, or an
    install hint) and ``requires`` (the modules the target needs), and implement
    :meth:`parameters` and :meth:`compile`.
    """

    name: str = ""
    extra: str = ""
    requires: tuple[str, ...] = ()

    @abc.abstractmethod
    def parameters(self, model: Any) -> Mapping[str, tuple[int, ...] | None]:
        """Canonical parameter names of ``model`` mapped to shapes, in model order."""

    @abc.abstractmethod
    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        """Turn ``plan`` into native objects for ``model``."""

    def resolve_and_compile(self, spec: Any, model: Any, **options: Any) -> Any:
        """Resolve ``spec`` against ``model``'s parameters, then :meth:`compile` it."""
        from lrspec.resolve import resolve

        plan = resolve(spec, self.parameters(model))
        return self.compile(plan, model, **options)


@dataclass(frozen=True)
class TargetInfo:
    """A known target and whether it can be used here."""

    name: str
    source: str
    extra: str
    installed: bool
    problem: str | None = None


#: name -> ("module:attribute", pip extra)
BUILTIN_TARGETS: dict[str, tuple[str, str]] = {
    "torch": ("lrspec_torch.target:TARGET", "lrspec[torch]"),
    "tf": ("lrspec_tf.target:TF_TARGET", "lrspec[tf]"),
    "tf-v1": ("lrspec_tf.target:TF_V1_TARGET", "lrspec[tf]"),
}

_FRAMEWORK_MODULES = {"torch": ("torch",), "tf": ("tensorflow", "keras"), "tf-v1": ("tensorflow",)}


def _load(ref: str, name: str, extra: str) -> Target:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module_name
        raise TargetError(
            f"target {name!r} is not available: cannot import {missing!r} ({exc}); "
            f"install it with: pip install '{extra}'"
        ) from None
    obj = getattr(module, attr, None) if attr else module
    if obj is None:
        raise TargetError(f"target {name!r}: {module_name!r} has no attribute {attr!r}")
    if isinstance(obj, type) and issubclass(obj, Target):
        obj = obj()
    if not isinstance(obj, Target):
        raise TargetError(f"target {name!r} ({ref}) is a {type(obj).__name__}, not a lrspec.targets.Target")
    return obj


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def get_target(name: str) -> Target:
    """Look a target up by name (built-in table first, then entry points) and load it."""
    if not isinstance(name, str):
        raise TargetError(f"target must be a name like 'torch', got {type(name).__name__}")
    if name in BUILTIN_TARGETS:
        ref, extra = BUILTIN_TARGETS[name]
        return _load(ref, name, extra)
    eps = _entry_points()
    if name in eps:
        ep = eps[name]
        return _load(ep.value, name, f"the package providing {ep.value}")
    known = sorted(set(BUILTIN_TARGETS) | set(eps))
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TargetError(f"unknown target {name!r}{hint}; known targets: {', '.join(known)}")


def available_targets() -> list[TargetInfo]:
    """Every known target, with whether its framework is importable (nothing is imported)."""
    import importlib.util

    out: list[TargetInfo] = []
    for name, (ref, extra) in BUILTIN_TARGETS.items():
        missing = [m for m in _FRAMEWORK_MODULES[name] if importlib.util.find_spec(m) is None]
        adapter = ref.partition(":")[0].partition(".")[0]
        if importlib.util.find_spec(adapter) is None:
            missing.append(adapter)
        problem = f"missing: {', '.join(missing)}" if missing else None
        out.append(TargetInfo(name, ref, extra, not missing, problem))
    for name, ep in sorted(_entry_points().items()):
        if name not in BUILTIN_TARGETS:
            out.append(TargetInfo(name, ep.value, "(plugin)", True))
    return out
