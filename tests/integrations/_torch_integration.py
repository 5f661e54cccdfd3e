"""Shared helpers of the torch integration tests: load an example recipe, make timm importable."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "integrations"
SHIMS = Path(__file__).resolve().parents[1] / "shims"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_example(name: str) -> ModuleType:
    """Import ``examples/integrations/<name>.py`` as a module (the tests run the recipes themselves)."""
    spec = importlib.util.spec_from_file_location(f"lrspec_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def torchvision_for_timm() -> str:
    """Make ``import torchvision`` work for timm: the real one if it imports, else lrspec's test
    shim (tests/shims/torchvision; see its docstring for why). Returns which one."""
    try:
        import torchvision

        return "torchvision"
    except Exception:  # the registry's CUDA build fails to load against CPU torch
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.path.insert(0, str(SHIMS))
        import torchvision

        assert getattr(torchvision, "IS_LRSPEC_SHIM", False)
        return "shim"
