"""The core names no framework: no module under lrspec/ imports a framework or an adapter.

Scans the source with :mod:`ast` (so a lazy import inside a function counts too), including
``importlib.import_module("...")`` and ``__import__("...")`` with a literal name. The
registry's ``"module:attribute"`` strings are data, not imports, and are allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "lrspec"

FORBIDDEN = {
    "torch", "tensorflow", "keras", "jax", "jaxlib", "optax", "flax", "h5py", "safetensors",
    "mmengine", "timm", "transformers", "lightning", "accelerate",
    "lrspec_torch", "lrspec_tf", "lrspec_keras", "lrspec_optax",
}


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module name) for every import in ``tree``, dynamic literal imports included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__", "find_spec") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def _violations(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    return [f"{filename}:{line}: imports {name!r}" for line, name in _imports(tree) if _top(name) in FORBIDDEN]


def test_no_core_module_imports_a_framework_or_an_adapter() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 20
    bad = [v for f in files for v in _violations(f.read_text(encoding="utf-8"), str(f.relative_to(CORE.parent)))]
    assert not bad, "framework imports in the core:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source",
    [
        "import torch",
        "import tensorflow as tf",
        "from keras import ops",
        "def f():\n    import jax.numpy as jnp\n",
        "import importlib\nimportlib.import_module('lrspec_tf.rules')",
        "__import__('optax')",
        "from importlib import import_module\nimport_module('h5py')",
        "from safetensors import safe_open",
    ],
)
def test_the_scan_catches_every_form(source: str) -> None:
    """The scanner itself can fail: each of these must be reported with file and line."""
    (violation,) = _violations(source, "x.py")
    assert violation.startswith("x.py:")


def test_registry_strings_are_not_imports() -> None:
    assert _violations('BUILTIN = {"torch": ("lrspec_torch.target:TARGET", "lrspec[torch]")}', "x.py") == []
