"""MMEngine ``_base_`` config inheritance, without mmengine.

Follows mmengine 0.10.7 ``mmengine/config/config.py`` (``Config._file2dict``,
``Config._get_base_files``, ``Config._merge_a_into_b``):

* ``_base_`` is a path or a list of paths, relative to the directory of the file naming them
  (``.py``, ``.json``, ``.yaml``/``.yml``), read recursively; in a ``.py`` file its first
  top-level assignment is evaluated as a literal, as mmengine does;
* the bases are read in order and must not define the same top-level key (mmengine raises
  ``Duplicate key is not allowed among bases``);
* the file's own keys are then merged into them: a dict into a dict recursively, unless it
  says ``_delete_=True`` (then it replaces the base's value); anything else (a list, a
  number, a dict over a non-dict with ``_delete_``) replaces.

Not supported, refused naming the file and the construct: ``{{_base_.xxx}}`` substitution,
reading ``_base_.xxx`` in code, ``package::path`` bases, and new-format (``read_base()``)
configs. A cycle or a missing base file is one error naming the file.
"""

from __future__ import annotations

import ast
import json
import re
import runpy
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrspec.errors import LrSpecError, Problem

__all__ = ["ConfigInheritanceError", "read_mmengine_config"]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
MAX_DEPTH = 32
_SUFFIXES = (".py", ".json", ".yaml", ".yml")
_SUBSTITUTION = re.compile(r"\{\{\s*" + BASE_KEY + r"\.")


class ConfigInheritanceError(LrSpecError):
    """A config file (``where``) that cannot be read or merged; ``what`` says why."""

    def __init__(self, where: str, what: str):
        self.where = where
        self.what = what
        super().__init__(Problem(where, what))


def _default_text(path: str) -> str:
    from lrspec.spec.files import FileRefused, read_bounded_text

    try:
        return read_bounded_text(path, 1 << 20, "config file")
    except FileNotFoundError:
        raise ConfigInheritanceError(path, "no such file") from None
    except FileRefused as exc:
        raise ConfigInheritanceError(path, str(exc)) from None


def _py_bases(path: str, text: str) -> list[Any]:
    """The ``_base_`` of a ``.py`` config (its first top-level assignment), refusing the
    constructs this reader does not implement."""
    try:
        tree = ast.parse(text, path)
    except SyntaxError as exc:
        raise ConfigInheritanceError(path, f"cannot parse: SyntaxError: {exc}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
                isinstance(item.context_expr, ast.Call) and isinstance(item.context_expr.func, ast.Name)
                and item.context_expr.func.id == "read_base" for item in node.items):
            raise ConfigInheritanceError(path, "uses the new config format (`with read_base():`), which lrspec "
                                         "does not read; use `_base_ = [...]` or a Config.dump of it")
        if isinstance(node, ast.ImportFrom) and node.level != 0:
            raise ConfigInheritanceError(path, "uses the new config format (a relative import of base configs), "
                                         "which lrspec does not read; use `_base_ = [...]` or a Config.dump of it")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == BASE_KEY:
            raise ConfigInheritanceError(path, f"reads `{BASE_KEY}.{node.attr}` in code, which lrspec does not "
                                         "support; write the value out")
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == BASE_KEY:
            try:
                value = ast.literal_eval(stmt.value)
            except ValueError:
                raise ConfigInheritanceError(path, f"{BASE_KEY} must be a literal path or list of paths") from None
            return value if isinstance(value, list) else [value]
    return []


def _execute(path: str) -> dict[str, Any]:
    try:
        namespace = runpy.run_path(path, run_name="__lrspec_config__")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ConfigInheritanceError(path, f"executing the config failed: {type(exc).__name__}: {exc}") from None
    # mmengine keeps every name not starting with "__", minus functions and modules
    return {k: v for k, v in namespace.items()
            if not k.startswith("__") and not isinstance(v, (types.FunctionType, types.ModuleType))}


def _structured(path: str, text: str) -> dict[str, Any]:
    try:
        if path.lower().endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:
        raise ConfigInheritanceError(path, f"cannot parse: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigInheritanceError(path, f"a config must be a mapping, got {type(data).__name__}")
    return data


def merge_a_into_b(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``Config._merge_a_into_b(a, b)`` (not in place; ``allow_list_keys=False``)."""
    out = dict(b)
    for k, v in a.items():
        if isinstance(v, dict):
            v = dict(v)
            if k in out and not v.pop(DELETE_KEY, False):
                if not isinstance(out[k], dict):
                    raise TypeError(f"{k}={v} in child config cannot inherit from base because {k} is a dict in "
                                    f"the child config but is of type {type(out[k]).__name__} in base config; "
                                    f"set `{DELETE_KEY}=True` to ignore the base config")
                out[k] = merge_a_into_b(v, out[k])
            else:
                out[k] = v
        else:
            out[k] = v
    return out


def _read(path: Path, chain: tuple[Path, ...], read_text: Callable[[str], str]) -> dict[str, Any]:
    name = str(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise ConfigInheritanceError(name, "a config must be a .py, .json or .yaml file")
    if path.resolve() in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path.resolve()))
        raise ConfigInheritanceError(name, f"{BASE_KEY} inheritance has a cycle: {cycle}")
    if len(chain) >= MAX_DEPTH:
        raise ConfigInheritanceError(name, f"{BASE_KEY} nests more than {MAX_DEPTH} files deep")
    if not path.is_file():
        where = f" (a {BASE_KEY} of {chain[-1]})" if chain else ""
        raise ConfigInheritanceError(name, f"no such config file{where}")
    text = read_text(name)
    if _SUBSTITUTION.search(text):
        raise ConfigInheritanceError(name, "uses `{{_base_.xxx}}` substitution, which lrspec does not support; "
                                     "write the value out")
    is_py = path.suffix.lower() == ".py"
    data: dict[str, Any] = {} if is_py else _structured(name, text)
    if is_py:
        bases = _py_bases(name, text)
    else:
        listed = data.get(BASE_KEY, [])
        bases = listed if isinstance(listed, list) else [listed]
    merged: dict[str, Any] = {}
    here = (*chain, path.resolve())
    for base in bases:
        if not isinstance(base, str):
            raise ConfigInheritanceError(name, f"{BASE_KEY} entries must be paths, got {base!r}")
        if "::" in base:
            raise ConfigInheritanceError(name, f"{BASE_KEY} {base!r} names a package's config (`package::path`), "
                                         "which lrspec does not resolve; use a relative path")
        one = _read(path.parent / base, here, read_text)
        dup = sorted(merged.keys() & one.keys())
        if dup:
            raise ConfigInheritanceError(name, f"Duplicate key is not allowed among bases ({BASE_KEY} {base!r} "
                                         f"defines again: {', '.join(dup)})")
        merged.update(one)
    own = _execute(name) if is_py else dict(data)
    own.pop(BASE_KEY, None)
    try:
        result = merge_a_into_b(own, merged)
    except TypeError as exc:
        raise ConfigInheritanceError(name, str(exc)) from None
    return {k: v for k, v in result.items() if not k.startswith("__")}


def read_mmengine_config(path: str, *, read_text: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The config in ``path`` with its ``_base_`` files merged in, as ``Config.fromfile``
    would give it (top-level names starting with ``__``, functions and modules left out).

    ``read_text`` reads (and bounds) one file's text; it may raise its own errors. Raises
    :class:`ConfigInheritanceError` naming the file at fault."""
    return _read(Path(path), (), read_text or _default_text)
