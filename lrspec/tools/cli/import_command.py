"""``lrspec import {mmengine,timm,hf,detectron2} FILE --model SOURCE [-o OUT] [--force]
[--iters-per-epoch N] [--steps-per-epoch N]``.

Reads the recipe FILE, builds the model (``--model module:callable``, as ``compile``), runs
the importer (:mod:`lrspec.importers`) and writes the spec as YAML with comments naming each
group's source key (stdout, or ``-o OUT``: atomic, never over an existing file without
``--force``). Warnings (an inexact import) go to stderr as well as into the YAML header.

Recipe files, read without the tool (no framework is imported):

* mmengine: a ``.py`` config (executed like a model module: it is the user's own code;
  ``_base_`` files are merged as mmengine merges them, by
  :mod:`lrspec.importers.mmengine_config`) or a ``.json``/``.yaml`` dump of one (``Config.dump``);
* timm: the ``args.yaml`` that ``train.py`` writes; hf: the TrainingArguments JSON (or YAML);
* detectron2: a ``.yaml`` config; ``_BASE_`` files are merged (relative paths, recursively).
"""

from __future__ import annotations

import argparse
import json
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from lrspec.errors import LrSpecError
from lrspec.tools.cli.common import write_output
from lrspec.tools.cli.errors import EXIT_OK, UsageError, UserError, located
from lrspec.tools.render import printable

__all__ = ["TOOLS", "cmd_import", "read_recipe"]

TOOLS = ("mmengine", "timm", "hf", "detectron2")
MAX_RECIPE_BYTES = 1 << 20


def _text(path: str) -> str:
    from lrspec.spec.files import FileRefused, read_bounded_text

    try:
        return read_bounded_text(path, MAX_RECIPE_BYTES, "recipe file")
    except FileNotFoundError:
        raise UserError(path, "no such file") from None
    except FileRefused as exc:
        raise UserError(path, str(exc)) from None


def _structured(path: str) -> Any:
    text = _text(path)
    try:
        if path.lower().endswith(".json"):
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's subclasses
        raise UserError(path, f"cannot parse: {exc}") from None
    except Exception as exc:
        raise UserError(path, f"cannot parse: {type(exc).__name__}: {exc}") from None


def _python_config(path: str) -> dict[str, Any]:
    from lrspec.importers.mmengine_config import ConfigInheritanceError, read_mmengine_config

    try:
        namespace = read_mmengine_config(path, read_text=_text)
    except ConfigInheritanceError as exc:
        raise UserError(exc.where, exc.what) from None
    return {k: v for k, v in namespace.items() if not k.startswith("_")
            and not isinstance(v, (types.ModuleType, types.FunctionType, type))}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _detectron2(path: str, depth: int = 0) -> dict[str, Any]:
    data = _structured(path)
    if not isinstance(data, dict):
        raise UserError(path, "a detectron2 config must be a YAML mapping")
    base = data.pop("_BASE_", None)
    if base is None:
        return data
    if depth > 10:
        raise UserError(path, "_BASE_ nests more than 10 files deep")
    base_path = Path(path).parent / str(base)
    return _merge(_detectron2(str(base_path), depth + 1), data)


def read_recipe(tool: str, path: str) -> dict[str, Any]:
    """The recipe mapping of ``tool`` in the file ``path`` (see the module docstring)."""
    if tool == "mmengine" and path.lower().endswith((".py", ".json", ".yaml", ".yml")):
        return _python_config(path)
    data = _detectron2(path) if tool == "detectron2" else _structured(path)
    if not isinstance(data, dict):
        raise UserError(path, f"a {tool} recipe must be a mapping, got {type(data).__name__}")
    return data


def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Import the recipe and write the spec YAML."""
    from lrspec import importers
    from lrspec.tools import model_sources

    tool = args.tool
    if tool == "mmengine" and args.steps_per_epoch is not None:
        raise UsageError("lrspec import mmengine: use --iters-per-epoch (MMEngine's word), not --steps-per-epoch")
    if tool in ("timm", "hf") and args.iters_per_epoch is not None:
        raise UsageError(f"lrspec import {tool}: use --steps-per-epoch, not --iters-per-epoch")
    if tool == "detectron2" and (args.iters_per_epoch or args.steps_per_epoch):
        raise UsageError("lrspec import detectron2: detectron2 counts iterations (SOLVER.MAX_ITER); no epoch option")
    recipe = read_recipe(tool, args.file)
    source = model_sources.open_source(args.model, None)
    if source.model is None:
        raise UserError(args.model, "lrspec import needs a live model (module:callable), not a parameter or model file")
    with located(args.file):
        try:
            if tool == "mmengine":
                imported = importers.import_mmengine(recipe, source.model, iters_per_epoch=args.iters_per_epoch)
            elif tool == "timm":
                imported = importers.import_timm(recipe, source.model, steps_per_epoch=args.steps_per_epoch)
            elif tool == "hf":
                imported = importers.import_hf(recipe, source.model, steps_per_epoch=args.steps_per_epoch)
            else:
                imported = importers.import_detectron2(recipe, source.model)
        except LrSpecError:
            raise
        except Exception as exc:  # the model's own methods (group_matcher, no_weight_decay) can raise anything
            raise UserError(args.file, f"the import failed: {type(exc).__name__}: {exc}") from None
    text = importers.to_yaml(imported, source=Path(args.file).name)
    for w in imported.warnings:
        err.write(f"Warning: lrspec import {tool}: {printable(w)}\n")
    write_output(text, args.output, args.force, out)
    return EXIT_OK
