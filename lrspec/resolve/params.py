"""The parameters to resolve: names, optionally shapes and owning-module info, checked.

:func:`lrspec.resolve` takes parameter names, a mapping name -> shape, or a mapping
name -> :class:`ParamMeta` (shape plus :class:`ModuleInfo`, what the torch and Keras targets'
``parameters(model)`` return). Shapes feed the ``ndim`` selector and the families restricted
to some shapes (muon: 2-D); module info feeds the ``modules`` selector (roles of
:data:`ROLES`, or ``"class:Name"`` matched against :attr:`ModuleInfo.classes`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lrspec.errors import ResolveError

__all__ = [
    "ROLES",
    "ModuleInfo",
    "ParamMeta",
    "Shape",
    "normalize_param_meta",
    "normalize_params",
    "shape_of",
]

Shape = tuple[int, ...]

ROLES: tuple[str, ...] = ("norm", "conv", "depthwise_conv", "linear", "embedding")
"""Portable module roles of the ``modules`` selector:

* ``norm``: batch/layer/group/instance/RMS normalisation layers (any class whose name contains
  ``Norm``, e.g. timm ``LayerNorm2d``, HF ``*LayerNorm``/``*RMSNorm``);
* ``conv``: convolutions (depthwise ones included);
* ``depthwise_conv``: a convolution whose ``groups == in_channels > 1`` (MMEngine's rule);
* ``linear``: dense/linear layers;
* ``embedding``: embedding tables.
"""


@dataclass(frozen=True)
class ModuleInfo:
    """The module (layer) that owns a parameter.

    ``type`` is its class name (``"BatchNorm2d"``, ``"LayerNormalization"``); ``classes`` the
    class names of its MRO, most derived first (framework base classes included; ``type`` is
    put first if missing); ``roles`` its portable roles, a subset of :data:`ROLES`. Lists
    are accepted and stored as tuple / frozenset. Unknown roles raise ValueError.
    """

    type: str
    classes: tuple[str, ...] = ()
    roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise ValueError(f"ModuleInfo.type must be a non-empty class name, got {self.type!r}")
        if isinstance(self.classes, str) or isinstance(self.roles, str):
            raise ValueError("ModuleInfo.classes and .roles are collections of names, not a string")
        classes = tuple(self.classes)
        if not all(isinstance(c, str) and c for c in classes):
            raise ValueError(f"ModuleInfo.classes must be class names, got {self.classes!r}")
        if self.type not in classes:
            classes = (self.type, *classes)
        roles = frozenset(self.roles)
        unknown = sorted(str(r) for r in roles - set(ROLES))
        if unknown:
            raise ValueError(f"unknown module role(s) {', '.join(unknown)}; the roles are: {', '.join(ROLES)}")
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "roles", roles)

    def to_dict(self) -> dict[str, Any]:
        """``{"type": ..., "classes": [...], "roles": [...]}`` (roles in :data:`ROLES` order)."""
        return {"type": self.type, "classes": list(self.classes), "roles": [r for r in ROLES if r in self.roles]}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ModuleInfo:
        """The inverse of :meth:`to_dict` (``classes``/``roles`` optional). ValueError on bad data."""
        if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
            raise ValueError(
                f'module info must be {{"type": <class name>, "classes": [...], "roles": [...]}}, got {data!r}'
            )
        extra = set(data) - {"type", "classes", "roles"}
        if extra:
            raise ValueError(f"module info has unknown key(s) {', '.join(sorted(map(str, extra)))}")
        classes = data.get("classes") or ()
        roles = data.get("roles") or ()
        if not isinstance(classes, (list, tuple)) or not isinstance(roles, (list, tuple, set, frozenset)):
            raise ValueError("module info: classes and roles must be lists of names")
        return ModuleInfo(data["type"], tuple(classes), frozenset(roles))


@dataclass(frozen=True)
class ParamMeta:
    """What is known about one parameter: its shape (None: unknown) and owning module (None: unknown)."""

    shape: Shape | None
    module: ModuleInfo | None = None


INT64_MAX = 2**63 - 1


def _dim(d: Any) -> int:
    """An integer dimension: ints and integer-like objects (numpy ints, via ``__index__``);
    never a float or bool (``int(2.7)`` would silently truncate)."""
    if isinstance(d, bool):
        raise TypeError("a bool is not a dimension")
    return operator.index(d)


def shape_of(value: Any) -> Any:
    """The shape part of a value of a parameter mapping: ``value.shape`` for a :class:`ParamMeta`,
    else ``value`` itself (a shape or None). For consumers of ``Target.parameters`` that only
    need shapes."""
    return value.shape if isinstance(value, ParamMeta) else value


def normalize_params(params: Iterable[str] | Mapping[str, Any]) -> tuple[list[str], list[Shape | None]]:
    """Names and shapes of :func:`normalize_param_meta` (module info dropped)."""
    names, shapes, _ = normalize_param_meta(params)
    return names, shapes


def normalize_param_meta(
    params: Iterable[str] | Mapping[str, Any],
) -> tuple[list[str], list[Shape | None], list[ModuleInfo | None]]:
    """Names, shapes and module infos (None where unknown), validated.

    ``params`` is an iterable of names, or a mapping name -> shape, or name -> :class:`ParamMeta`
    (the two kinds of values may be mixed). Raises ResolveError for a string instead of an
    iterable, a name that is not a non-empty string without newlines, a name listed twice, a
    shape that is not a sequence of ints (floats and bools are refused, never truncated;
    dimensions fit in int64), or a module that is not a :class:`ModuleInfo`.
    """
    if isinstance(params, (str, bytes)):
        raise ResolveError("params must be an iterable of names or a mapping name -> shape, not a string")
    if isinstance(params, Mapping):
        names = list(params.keys())
        raw_shapes: list[Any] = list(params.values())
    else:
        names = list(params)
        raw_shapes = [None] * len(names)
    # fast checks in C first; the loop only runs to name the culprit
    name_set = set(names) if set(map(type, names)) <= {str} else None
    if name_set is None or "" in name_set or "\n".join(names).count("\n") != max(len(names) - 1, 0):
        for name in names:
            if not isinstance(name, str) or not name or "\n" in name:
                raise ResolveError(f"invalid parameter name {name!r}: names must be non-empty strings without newlines")
    if name_set is not None and len(name_set) != len(names):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ResolveError(f"parameter name {name!r} is listed twice")
            seen.add(name)
    modules: list[ModuleInfo | None] = [None] * len(names)
    if any(isinstance(v, ParamMeta) for v in raw_shapes):
        for k, (name, value) in enumerate(zip(names, raw_shapes)):
            if isinstance(value, ParamMeta):
                if value.module is not None and not isinstance(value.module, ModuleInfo):
                    raise ResolveError(
                        f"invalid module info for {name!r}: {value.module!r} (ParamMeta.module is a ModuleInfo or None)"
                    )
                modules[k] = value.module
                raw_shapes[k] = value.shape
    shapes: list[Shape | None] = []
    for name, shape in zip(names, raw_shapes):
        if shape is None:
            shapes.append(None)
            continue
        try:
            dims = tuple(_dim(d) for d in shape)
        except (TypeError, ValueError):
            raise ResolveError(
                f"invalid shape for {name!r}: {shape!r} (a shape is a sequence of integers; 2.7 or True is not one)"
            ) from None
        if any(d > INT64_MAX for d in dims):
            raise ResolveError(f"invalid shape for {name!r}: {shape!r} (a dimension beyond int64)")
        if any(d < 0 for d in dims):
            raise ResolveError(f"invalid shape for {name!r}: {shape!r} (negative dimension)")
        shapes.append(dims)
    return names, shapes, modules
