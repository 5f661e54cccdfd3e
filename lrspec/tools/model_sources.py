"""``--model SOURCE``: where the parameter names (and shapes) of a model come from.

:func:`open_source` turns a SOURCE string into a :class:`ModelSource`, which holds either a
live model (``module:callable``) or a mapping canonical name -> shape read from a file. This
module names no framework: model files are read by the targets
(:meth:`lrspec.targets.Target.read_model_file`) and live models are recognised by them
(:meth:`lrspec.targets.Target.accepts`). Every failure is a :class:`SourceError` (one
problem, located at SOURCE).

Sources, tried in this order:

* a path that a target reads (:meth:`~lrspec.targets.Target.reads_model_file`): the target
  named by ``target`` when it reads it, else the first installed target that does
  (:func:`lrspec.targets.target_for_file`), else a known target whose framework is missing
  (its reader then names the pip extra to install). A path that does not exist counts only
  when a target recognises it by more than its suffix (a TensorFlow checkpoint prefix);
* any other existing file: a parameter list (:mod:`lrspec.tools.paramfile`);
* ``module:callable`` (``module:attr.attr`` works too): the module is imported (the current
  directory is on ``sys.path``, as with uvicorn), the attribute is called with no arguments
  when it is a function or class (an existing model object is used as is), and the result
  must be a model some target accepts: the requested target, else
  :func:`lrspec.targets.target_for_model` (a model of another target than the requested one
  is an error suggesting the right ``--target``). Whatever the module prints while it is
  imported and called is captured: passed on to stderr when it works, summarised in the
  error when it fails. Any exception there, ``sys.exit()`` (a training script that parses its
  arguments at import) and other ``BaseException`` subclasses included, is a
  :class:`SourceError`; only ``KeyboardInterrupt`` passes.

A reader may return a mapping with a ``kind`` attribute naming the file format
(``"safetensors"``); :attr:`ModelSource.kind` is then that, else ``"model-file"``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrspec.errors import ParamFileError, SourceError, TargetError
from lrspec.targets import (
    ParamShapes,
    Target,
    get_target,
    installed_targets,
    known_target_names,
    target_for_file,
    target_for_model,
)

__all__ = ["ModelSource", "SourceError", "open_source"]

Shape = tuple[int, ...]

_CALLABLE_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class ModelSource:
    """What a SOURCE gave: a live ``model`` or ``params`` (canonical name -> shape) read from
    a file; ``target`` is the name of the target that accepts the model or read the file
    (None for a parameter list); ``kind`` is ``callable``, ``params-file`` or the file format
    the reader reported (``torch-checkpoint``, ``safetensors``, ``keras``, ...)."""

    source: str
    kind: str
    model: Any = None
    target: str | None = None
    params: ParamShapes | None = None


# ------------------------------------------------------------------ the registry


def _any_target(name: str) -> Target | None:
    """Target ``name``, also when its framework is not installed (its cheap module is
    imported; the framework is not). None when it cannot be loaded at all."""
    # The registry refuses a target whose framework is missing; its reader still gives the
    # clearest message ("... needs 'torch' ...; install it with ..."), so load it unchecked.
    try:
        return get_target(name, check_installed=False)
    except TargetError:
        return None


def _known_targets() -> Iterator[Target]:
    for name in known_target_names():
        target = _any_target(name)
        if target is not None:
            yield target


# ------------------------------------------------------------------ model files


def _claims(target: Target, source: str, exists: bool) -> bool:
    """True when ``target`` reads ``source``; a missing path only when recognised by more than its suffix."""
    try:
        if not target.reads_model_file(source):
            return False
    except Exception:
        return False
    return exists or not source.lower().endswith(target.model_suffixes or ("\0",))


def _file_reader(source: str, requested: str | None) -> Target | None:
    exists = os.path.exists(source)
    if requested is not None:
        wanted = _any_target(requested)
        if wanted is not None and _claims(wanted, source, exists):
            return wanted
    if exists:
        found = target_for_file(source)
        if found is not None:
            return found
    return next((t for t in _known_targets() if _claims(t, source, exists)), None)


def _from_file(source: str, target: Target) -> ModelSource:
    try:
        params = target.read_model_file(source)
    except SourceError:
        raise
    except TargetError as exc:
        raise SourceError(source, str(exc)) from None
    except Exception as exc:
        raise SourceError(source, f"target {target.name!r} cannot read it: {type(exc).__name__}: {exc}") from None
    kind = getattr(params, "kind", None)
    return ModelSource(source, kind if isinstance(kind, str) else "model-file", target=target.name, params=params)


def _from_params_file(source: str) -> ModelSource:
    from lrspec.tools.paramfile import read_params

    try:
        return ModelSource(source, "params-file", params=read_params(source))
    except ParamFileError as exc:
        parts = []
        for p in exc.problems:
            line = f"{p.line}: " if p.line is not None else ""
            loc = f"{p.location}: " if p.location else ""
            parts.append(f"{line}{loc}{p.message}")
        raise SourceError(source, "; ".join(parts)) from None


# ------------------------------------------------------------------ module:callable


def _install_hint(module: str) -> str | None:
    """The pip extra of the known target that requires ``module``, or None."""
    for target in _known_targets():
        if module in target.requires:
            return target.extra
    return None


class _Captured:
    """The module's own stdout/stderr while it is imported and called (kept off ours)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def first_line(self) -> str:
        lines = [ln.strip() for ln in self.buffer.getvalue().splitlines() if ln.strip()]
        return lines[0][:200] if lines else ""

    def replay(self) -> None:
        """Pass what the module printed on to stderr (never our stdout, which holds our output)."""
        text = self.buffer.getvalue()
        if text:
            sys.stderr.write(text if text.endswith("\n") else text + "\n")


def _exit_text(what: str, exc: SystemExit, captured: _Captured) -> str:
    code = exc.code
    shown = repr(code) if code is not None and not isinstance(code, int) else str(code if code is not None else 0)
    said = captured.first_line()
    hint = (
        " (a training script that parses its arguments? keep that under `if __name__ == \"__main__\":` "
        "and point --model at a function that builds the model)"
    )
    return f"{what} called sys.exit({shown}){hint}" + (f"; its output began: {said!r}" if said else "")


def _import(source: str, module_name: str, captured: _Captured) -> Any:
    try:
        with contextlib.redirect_stdout(captured.buffer), contextlib.redirect_stderr(captured.buffer):
            return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        extra = _install_hint(missing) if missing != module_name else None
        if extra is not None:
            raise SourceError(
                source, f"importing {module_name!r} needs {missing!r}, which is not installed; "
                f"install it with: pip install '{extra}'"
            ) from None
        raise SourceError(source, f"cannot import module {module_name!r}: {exc}") from None
    except SystemExit as exc:
        raise SourceError(source, _exit_text(f"importing module {module_name!r}", exc, captured)) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise SourceError(source, f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}") from None


def _call(source: str, module_name: str, attr_path: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    captured = _Captured()
    module = _import(source, module_name, captured)
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            captured.replay()
            raise SourceError(source, f"module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
        try:
            with contextlib.redirect_stdout(captured.buffer), contextlib.redirect_stderr(captured.buffer):
                obj = obj()
        except ModuleNotFoundError as exc:
            missing = exc.name or "?"
            extra = _install_hint(missing)
            hint = f"; install it with: pip install '{extra}'" if extra is not None else ""
            raise SourceError(source, f"calling {attr_path}() failed: module {missing!r} is not installed{hint}") from None
        except SystemExit as exc:
            raise SourceError(source, _exit_text(f"calling {attr_path}()", exc, captured)) from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise SourceError(source, f"calling {attr_path}() failed: {type(exc).__name__}: {exc}") from None
    captured.replay()
    return obj


def _from_callable(source: str, requested: str | None) -> ModelSource:
    module_name, _, attr_path = source.partition(":")
    obj = _call(source, module_name, attr_path)
    wanted = _any_target(requested) if requested is not None else None
    if wanted is not None and wanted.accepts(obj):
        return ModelSource(source, "callable", model=obj, target=wanted.name)
    found = target_for_model(obj)
    if found is not None and wanted is not None:
        raise SourceError(
            source, f"gave a {found.name} model, but --target {wanted.name} needs {wanted.model_description} "
            f"(use --target {found.name})"
        )
    if found is not None:
        return ModelSource(source, "callable", model=obj, target=found.name)
    descriptions = list(dict.fromkeys(t.model_description for t in installed_targets()))
    need = " or ".join(descriptions) if descriptions else "a model of an installed target"
    raise SourceError(source, f"{attr_path} gave a {type(obj).__name__}, not {need}")


# ------------------------------------------------------------------ entry point


def _examples_hint() -> str:
    suffixes = sorted({s for t in _known_targets() for s in t.model_suffixes})
    files = f"a model file ({', '.join(suffixes)})" if suffixes else "a model file"
    return f"expected e.g. package.module:make_model, {files}, or a parameter list (.txt, .json)"


def open_source(source: str, target: str | None = None) -> ModelSource:
    """Open a ``--model`` SOURCE (see the module docstring) for ``target`` (a target name;
    None: any installed target). Raises :class:`SourceError`."""
    path = Path(source)
    reader = _file_reader(source, target)
    if reader is not None:
        return _from_file(source, reader)
    if path.is_file():
        return _from_params_file(source)
    if _CALLABLE_RE.match(source):
        return _from_callable(source, target)
    if path.is_dir():
        raise SourceError(source, "is a folder, not a model file or checkpoint")
    raise SourceError(source, f"no such file, and not a 'module:callable' reference ({_examples_hint()})")
