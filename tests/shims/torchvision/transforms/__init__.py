"""``torchvision.transforms`` of lrspec's test shim: placeholders only (see the package docstring)."""

from torchvision._placeholder import placeholder

from . import functional as functional

ToTensor = placeholder("torchvision.transforms.ToTensor")


def __getattr__(name: str) -> type:
    if name[:1].isupper():
        return placeholder(f"torchvision.transforms.{name}")
    raise AttributeError(f"module 'torchvision.transforms' (lrspec test shim) has no attribute {name!r}")
