"""Import another tool's recipe as a spec: MMEngine, timm, HF Trainer and Detectron2.

Each ``from_<tool>(mapping, model, ...)`` returns a :class:`lrspec.Spec` that gives every
parameter of ``model`` the lr, weight decay and schedule that tool gives it on the same
model; ``import_<tool>`` returns an :class:`Imported` with the provenance of each group (the
tool's key, written as YAML comments by ``lrspec import``) and the listed warnings. A recipe
that cannot be imported exactly raises :class:`RecipeError` naming the key (or is imported
with a warning saying how it differs); an import never differs silently.

No tool is imported: each importer follows the tool's documented rules (see
docs/importers.md), reaches the model's parameters through the Target door
(:func:`lrspec.targets.target_for_model`) and calls duck-typed methods of the model (timm's
``group_matcher()`` and ``no_weight_decay()``).
"""

from __future__ import annotations

from typing import Any

from lrspec.importers._common import Imported, RecipeError

_LAZY = {
    "from_detectron2": "detectron2", "import_detectron2": "detectron2",
    "from_hf": "hf", "import_hf": "hf",
    "from_mmengine": "mmengine", "import_mmengine": "mmengine",
    "from_timm": "timm", "import_timm": "timm",
    "to_yaml": "yaml_out",
}


def __getattr__(name: str) -> Any:
    """The importers, loaded on first use (each module is small and framework free)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"lrspec.importers.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'lrspec.importers' has no attribute {name!r}")


__all__ = [
    "Imported",
    "RecipeError",
    "from_detectron2",
    "from_hf",
    "from_mmengine",
    "from_timm",
    "import_detectron2",
    "import_hf",
    "import_mmengine",
    "import_timm",
    "to_yaml",
]
