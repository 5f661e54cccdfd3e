"""Compilation targets: the one door through which lrspec reaches a framework.

A target is a :class:`Target` instance. It owns everything about its framework: how the
framework's parameters are named (:meth:`Target.canonical_name`), listing a model's
parameters (:meth:`Target.parameters`), recognising its models (:meth:`Target.accepts`),
compiling a plan (:meth:`Target.compile`), driving ``lrspec verify``
(:meth:`Target.verify_driver`), generating ``--emit python`` code (:meth:`Target.emit_python`),
reading model files (:attr:`Target.model_suffixes`, :meth:`Target.reads_model_file`,
:meth:`Target.read_model_file`) and its bundled example models
(:meth:`Target.example_models`). The core names no framework: adding one means writing an
adapter package whose target implements this protocol, plus one registry line.

Lookup order for a name: the built-in table (``"module:attribute"`` strings, so a stale
install's metadata cannot break them), then the ``lrspec.targets`` entry-point group, which
is how a third party adds a target::

    [project.entry-points."lrspec.targets"]
    mytarget = "lrspec_mytarget:TARGET"

The loaded object must be a :class:`Target` (a subclass is instantiated); anything else is a
:class:`lrspec.TargetError`. A target's module must be importable without its framework
(import the framework inside the methods): the registry checks :attr:`Target.requires` with
:func:`importlib.util.find_spec` and raises a :class:`lrspec.TargetError` naming the extra
to install when one is missing, and :func:`available_targets` inspects targets without
importing any framework.
"""

from __future__ import annotations

import abc
import difflib
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy.typing as npt

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec.resolve.params import ParamMeta

__all__ = [
    "Array",
    "BUILTIN_TARGETS",
    "ENTRY_POINT_GROUP",
    "ParamShapes",
    "Shape",
    "Target",
    "TargetInfo",
    "VerifyDriver",
    "available_targets",
    "get_target",
    "installed_targets",
    "known_target_names",
    "target_for_file",
    "target_for_model",
]

ENTRY_POINT_GROUP = "lrspec.targets"

Shape = tuple[int, ...]
ParamShapes = Mapping[str, Shape | ParamMeta | None]
"""Parameter names mapped to shapes, or to :class:`lrspec.ParamMeta` (shape and owning module), or None."""
Array = npt.NDArray[Any]


@runtime_checkable
class VerifyDriver(Protocol):
    """What ``lrspec verify`` needs from a target: its compiled optimizer applied to
    synthetic float32 parameters.

    A driver is made by :meth:`Target.verify_driver` from a plan and the initial values
    (one float32 array per plan name). :meth:`step` applies one update with the given
    gradients (one float32 array per plan name; the driver hands the framework only those of
    parameters the compiled optimizer trains), advancing the schedule clock by one, exactly as
    a training loop would (torch: ``optimizer.step()`` then ``scheduler.step()``).
    :meth:`values` returns every plan parameter's current value as a NumPy array.
    :meth:`close` releases framework resources (sessions); it may be called more than once.
    """

    def step(self, grads: Mapping[str, Array]) -> None: ...

    def values(self) -> dict[str, Array]: ...

    def close(self) -> None: ...


class Target(abc.ABC):
    """A compilation target: everything lrspec knows about one framework.

    Subclasses set :attr:`name`, :attr:`extra` (the pip extra that installs the framework,
    or an install hint), :attr:`requires` (the modules the target needs) and implement
    :meth:`parameters` and :meth:`compile`. Every other method has a default that says
    clearly that the target does not offer that capability.
    """

    name: str = ""
    extra: str = ""
    requires: tuple[str, ...] = ()
    #: What :meth:`compile` takes, for messages ("a torch.nn.Module").
    model_description: str = "a model"
    #: Lower-case file suffixes :meth:`read_model_file` reads (``(".pt", ".safetensors")``).
    model_suffixes: tuple[str, ...] = ()

    # -- naming and parameters ---------------------------------------------------------

    def canonical_name(self, native_name: str) -> str:
        """The lrspec name of a parameter from the framework's own name for it (the one
        naming rule of this framework, used by compile, verify, model files and emitted code).
        The default keeps the name as it is."""
        return native_name

    @abc.abstractmethod
    def parameters(self, model: Any) -> ParamShapes:
        """Canonical parameter names of ``model`` mapped to shapes (None: unknown), in model order;
        or to :class:`lrspec.ParamMeta` (shape plus the owning module's :class:`lrspec.ModuleInfo`),
        which lets specs use the ``modules`` selector."""

    def accepts(self, model: Any) -> bool:
        """True when ``model`` is a model object of this framework. Must not import the
        framework (look in ``sys.modules``: an object of a framework that was never imported
        cannot exist). The default accepts nothing."""
        return False

    # -- compiling ---------------------------------------------------------------------

    @abc.abstractmethod
    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        """Turn ``plan`` into native objects for ``model``."""

    # -- tools -------------------------------------------------------------------------

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        """A :class:`VerifyDriver` for ``plan``: synthetic parameters of this framework with
        the plan's names and the ``init`` values, and this target's compiled optimizer
        (``options`` are compile options). The default raises :class:`lrspec.TargetError`,
        which ``lrspec verify`` reports as "skipped"."""
        raise TargetError(f"target {self.name!r} cannot be driven by lrspec verify (it defines no verify_driver)")

    def emit_python(self, plan: Plan, header: str) -> str:
        """Source of a standalone Python module implementing ``plan`` for this framework
        (no lrspec import); ``header`` is the first paragraph of its docstring, already safe
        to place inside a triple-quoted string. The default raises :class:`lrspec.TargetError`."""
        raise TargetError(f"target {self.name!r} does not emit code (--emit python); use lrspec.compile() instead")

    def reads_model_file(self, path: str) -> bool:
        """True when :meth:`read_model_file` reads ``path`` (by default: its suffix is one of
        :attr:`model_suffixes`). Must not import the framework."""
        return bool(self.model_suffixes) and path.lower().endswith(self.model_suffixes)

    def read_model_file(self, path: str) -> ParamShapes:
        """Canonical names and shapes of the parameters stored in the file ``path``, read
        without loading whole checkpoints where the format allows. Raises
        :class:`lrspec.tools.model_sources.SourceError`-compatible :class:`lrspec.LrSpecError`
        subclasses for unreadable files. The default raises :class:`lrspec.TargetError`."""
        raise TargetError(f"target {self.name!r} reads no model files")

    def example_models(self) -> Mapping[str, Callable[..., Any]]:
        """The bundled example models of this framework: name -> builder (``seed`` keyword).
        Names are shared across frameworks (``"mnist_cnn"`` builds twin models with mirrored
        parameter names). The default has none."""
        return {}


@dataclass(frozen=True)
class TargetInfo:
    """A known target and whether it can be used here."""

    name: str
    source: str
    extra: str
    installed: bool
    problem: str | None = None


#: name -> ("module:attribute", pip extra). Adding a framework: one line here (or an entry point).
BUILTIN_TARGETS: dict[str, tuple[str, str]] = {
    "torch": ("lrspec_torch.target:TARGET", "lrspec[torch]"),
    "tf": ("lrspec_keras.target:KerasTarget", "lrspec[keras]"),
    "tf-v1": ("lrspec_tf.target:TF_V1_TARGET", "lrspec[tf]"),
    "optax": ("lrspec_optax.target:TARGET", "lrspec[jax]"),
    "keras": ("lrspec_keras.target:KerasTarget", "lrspec[keras]"),
}


def _import_target(ref: str, name: str, extra: str) -> Target:
    """Import the target object ``ref`` (``module:attribute``) without checking its framework."""
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module_name
        raise TargetError(
            f"target {name!r} is not available: cannot import {missing!r} ({exc}); "
            f"install it with: pip install '{extra}'"
        ) from None
    obj = getattr(module, attr, None) if attr else module
    if obj is None:
        raise TargetError(f"target {name!r}: {module_name!r} has no attribute {attr!r}")
    if isinstance(obj, type) and issubclass(obj, Target):
        # a class is instantiated; one whose __init__ takes ``name`` gets the name it was looked up
        # by, so that an alias ("tf" for "keras") reports the name the user gave
        takes_name = "name" in inspect.signature(obj.__init__).parameters
        obj = obj(name=name) if takes_name else obj()  # type: ignore[call-arg]
    if not isinstance(obj, Target):
        raise TargetError(f"target {name!r} ({ref}) is a {type(obj).__name__}, not a lrspec.targets.Target")
    return obj


def _missing_requirements(target: Target) -> list[str]:
    missing = []
    for module in target.requires:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def _load(ref: str, name: str, extra: str) -> Target:
    target = _import_target(ref, name, extra)
    missing = _missing_requirements(target)
    if missing:
        raise TargetError(
            f"target {name!r} is not available: cannot import {', '.join(repr(m) for m in missing)}; "
            f"install it with: pip install '{extra}'"
        )
    return target


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _ref_of(name: str) -> tuple[str, str] | None:
    if name in BUILTIN_TARGETS:
        return BUILTIN_TARGETS[name]
    eps = _entry_points()
    if name in eps:
        return eps[name].value, f"the package providing {eps[name].value}"
    return None


def known_target_names() -> list[str]:
    """Every target name: the built-in table, then entry points (nothing is imported)."""
    names = list(BUILTIN_TARGETS)
    names += sorted(n for n in _entry_points() if n not in BUILTIN_TARGETS)
    return names


def get_target(name: str, *, check_installed: bool = True) -> Target:
    """Look a target up by name (built-in table first, then entry points) and load it.

    Raises :class:`lrspec.TargetError` for an unknown name (with a suggestion) or, unless
    ``check_installed`` is False, a target whose framework is not installed (naming the extra
    to install). An unchecked target can still describe itself (``reads_model_file``, ``extra``),
    since target modules import no framework."""
    if not isinstance(name, str):
        raise TargetError(f"target must be a name like 'torch', got {type(name).__name__}")
    found = _ref_of(name)
    if found is not None:
        if not check_installed:
            return _import_target(found[0], name, found[1])
        return _load(found[0], name, found[1])
    known = known_target_names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TargetError(f"unknown target {name!r}{hint}; known targets: {', '.join(known)}")


def available_targets() -> list[TargetInfo]:
    """Every known target, with whether its framework is importable (no framework is imported)."""
    out: list[TargetInfo] = []
    entries: list[tuple[str, str, str]] = [(n, ref, extra) for n, (ref, extra) in BUILTIN_TARGETS.items()]
    entries += [(n, ep.value, "(plugin)") for n, ep in sorted(_entry_points().items()) if n not in BUILTIN_TARGETS]
    for name, ref, extra in entries:
        try:
            target = _import_target(ref, name, extra)
        except TargetError as exc:
            adapter = ref.partition(":")[0].partition(".")[0]
            out.append(TargetInfo(name, ref, extra, False, f"missing: {adapter}" if "cannot import" in str(exc) else str(exc)))
            continue
        missing = _missing_requirements(target)
        problem = f"missing: {', '.join(missing)}" if missing else None
        out.append(TargetInfo(name, ref, extra, not missing, problem))
    return out


def installed_targets() -> list[Target]:
    """The targets whose framework is installed, in :func:`available_targets` order."""
    return [get_target(info.name) for info in available_targets() if info.installed]


def target_for_model(model: Any) -> Target | None:
    """The first installed target that :meth:`~Target.accepts` ``model``, or None."""
    for target in installed_targets():
        if target.accepts(model):
            return target
    return None


def target_for_file(path: str) -> Target | None:
    """The first installed target that :meth:`~Target.reads_model_file` ``path``, or None."""
    for target in installed_targets():
        if target.reads_model_file(path):
            return target
    return None

