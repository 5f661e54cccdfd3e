"""Placeholder classes for torchvision names the shim does not implement."""

from __future__ import annotations

from typing import Any


def placeholder(qualname: str) -> type:
    """A class named like ``qualname`` whose construction raises NotImplementedError (subclassable)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            f"{qualname} is not available: this is lrspec's test shim for torchvision "
            "(tests/shims/torchvision), which only lets `import timm` work"
        )

    name = qualname.rsplit(".", 1)[-1]
    return type(name, (), {"__init__": __init__, "__module__": qualname.rsplit(".", 1)[0]})
