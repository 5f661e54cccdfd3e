"""``torchvision.models`` of lrspec's test shim: every name is a placeholder that raises when used.

torchmetrics (imported by lightning) imports model constructors such as ``resnet50`` at import
time whenever a ``torchvision`` is importable, so a process that put the shim on ``sys.path`` for
timm must still be able to import lightning. Nothing here builds a model.
"""

from typing import Any

from torchvision._placeholder import placeholder


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return placeholder(f"torchvision.models.{name}")
