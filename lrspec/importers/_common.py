"""What every importer shares: the error, the result, the model's parameters, the optimizer
node from torch keyword arguments, and the exactness check.

An importer reimplements one tool's rules (no tool is imported: this package is framework
free) to compute, per parameter, the lr and weight decay the tool gives it (the *expected*
values). It writes a spec of readable rules (``params``/``ndim``/``modules`` groups, layer
decay) and :func:`check_exact` resolves that spec against the same parameters and compares:
a parameter whose resolved lr or weight decay differs from the tool's by more than float
roundoff gets an explicit per-name group (listed in :attr:`Imported.warnings`), so an import
never differs silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lrspec.errors import LrSpecError, Problem
from lrspec.resolve.params import ModuleInfo, ParamMeta
from lrspec.spec.families import FAMILY_DEFAULTS, FAMILY_HYPERPARAMETERS
from lrspec.spec.models import Spec

__all__ = [
    "Expected",
    "Imported",
    "ParamView",
    "RecipeError",
    "check_exact",
    "model_params",
    "name_pattern",
    "optimizer_node",
]

#: Relative tolerance of "the same lr": the tool and lrspec compute products of the same
#: factors in another order (a few float64 ulps).
RTOL = 1e-12


class RecipeError(LrSpecError):
    """A recipe (another tool's config) that cannot be imported exactly: one problem naming the key."""

    def __init__(self, key: str, message: str, *, file: str | None = None):
        super().__init__(Problem(key, message, file=file), file=file)


@dataclass(frozen=True)
class ParamView:
    """One parameter of the model as the Target door reports it."""

    name: str
    shape: tuple[int, ...] | None
    module: ModuleInfo | None
    trainable: bool = True
    """False for a torch parameter with ``requires_grad=False`` (every tool leaves those out)."""

    @property
    def ndim(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def is_a(self, *classes: str) -> bool:
        """The owning module is an instance of one of ``classes`` (by class name, MRO included)."""
        return self.module is not None and any(c in self.module.classes for c in classes)

    @property
    def leaf(self) -> str:
        """The parameter's own name within its module (``bias`` of ``head.fc.bias``)."""
        return self.name.rpartition(".")[2]


@dataclass
class Expected:
    """The tool's lr and weight decay per trainable parameter (before the schedule)."""

    lr: dict[str, float] = field(default_factory=dict)
    weight_decay: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Imported:
    """An imported recipe: the spec, where each part came from, and what is not exact.

    ``sources`` maps a spec group name (and ``"optimizer"``, ``"schedule"``, ``"layer_decay"``)
    to the tool's key it came from (written as YAML comments); ``warnings`` are the listed
    ways in which training with the spec differs from training with the tool (empty: exact)."""

    spec: Spec
    tool: str
    sources: Mapping[str, str]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def model_params(model: Any) -> list[ParamView]:
    """The model's parameters through the Target door (:func:`lrspec.targets.target_for_model`)."""
    from lrspec.targets import target_for_model

    target = target_for_model(model)
    if target is None:
        raise RecipeError("--model", f"a {type(model).__name__} is not a model of any installed lrspec target")
    raw = target.parameters(model)
    frozen: set[str] = set()
    named = getattr(model, "named_parameters", None)  # duck typing: torch modules say which parameters train
    if callable(named):
        try:
            frozen = {target.canonical_name(n) for n, p in named() if getattr(p, "requires_grad", True) is False}
        except Exception:
            frozen = set()
    out = []
    for name, value in raw.items():
        if isinstance(value, ParamMeta):
            out.append(ParamView(name, value.shape, value.module, name not in frozen))
        else:
            out.append(ParamView(name, None if value is None else tuple(value), None, name not in frozen))
    if not out:
        raise RecipeError("--model", "the model has no parameters")
    return out


def needs_modules(params: Sequence[ParamView], key: str) -> None:
    """A RecipeError when the Target door gave no module info (a rule of ``key`` keys on module types)."""
    missing = [p.name for p in params if p.module is None]
    if missing:
        raise RecipeError(
            key,
            f"this rule keys on module types, but the model's target gives no module info for {missing[0]!r}"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
        )


def needs_shapes(params: Sequence[ParamView], key: str) -> None:
    missing = [p.name for p in params if p.shape is None]
    if missing:
        raise RecipeError(key, f"this rule keys on parameter shapes, but the shape of {missing[0]!r} is unknown")


_GLOB_SPECIAL = re.compile(r"[*?\[\]{}]")


def name_pattern(text: str, *, contains: bool = False, suffix: bool = False) -> str:
    """A spec pattern matching the name ``text`` exactly (``contains``: any name containing it;
    ``suffix``: any name ending in it): a glob when ``text`` has no glob character, else an
    escaped ``re:`` pattern."""
    if not _GLOB_SPECIAL.search(text):
        return ("*" if contains or suffix else "") + text + ("*" if contains else "")
    body = re.escape(text)
    return "re:" + (".*" if contains or suffix else "") + body + (".*" if contains else "")


def optimizer_node(family: str, lr: float, weight_decay: float, key: str, **hyper: Any) -> dict[str, Any]:
    """The spec's ``optimizer`` mapping for torch's ``family`` class called with these keyword
    arguments; a keyword the family does not take is a RecipeError at ``key``."""
    allowed = set(FAMILY_HYPERPARAMETERS[family])
    node: dict[str, Any] = {"type": family, "lr": float(lr), "weight_decay": float(weight_decay)}
    for name, value in hyper.items():
        if value is None:
            continue
        if name not in allowed:
            raise RecipeError(key, f"{family}: lrspec cannot import the argument {name!r} (torch's {family} keys: "
                              f"{', '.join(sorted(allowed))})")
        if isinstance(value, tuple):
            value = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in value]
        elif isinstance(value, int) and not isinstance(value, bool) and isinstance(FAMILY_DEFAULTS[family][name], float):
            value = float(value)
        node[name] = value
    return node


def _close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)


def check_exact(
    data: dict[str, Any], params: Sequence[ParamView], expected: Expected, sources: dict[str, str],
    warnings: list[str], schedule_for: Callable[[float], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``data`` (a spec mapping) resolved against ``params``; parameters whose lr or weight decay
    differs from ``expected`` get explicit per-name groups appended (each listed in ``warnings``
    and ``sources``). Frozen-by-the-tool parameters (absent from ``expected``) are frozen. Returns
    the (possibly extended) mapping; raises RecipeError when even explicit groups cannot match."""
    from lrspec.resolve import resolve

    names = {p.name: ParamMeta(p.shape, p.module) for p in params}
    plan = resolve(Spec.model_validate(data), names)
    frozen = [n for n in names if n not in expected.lr and not plan.group_of(n).frozen]
    if frozen:
        data.setdefault("groups", []).append({"name": "not_trained", "params": [name_pattern(n) for n in frozen],
                                               "freeze": True})
        sources["not_trained"] = "parameters the tool leaves out of its optimizer (requires_grad=False)"
    for attempt in range(2):
        plan = resolve(Spec.model_validate(data), names)
        wrong = []
        for n in expected.lr:
            g = plan.group_of(n)
            if not (_close(g.lr, expected.lr[n]) and _close(g.weight_decay, expected.weight_decay[n])):
                wrong.append((n, g.lr, g.weight_decay))
        if not wrong:
            return data
        if attempt == 1:
            n, lr, wd = wrong[0]
            raise RecipeError(n, f"cannot import exactly: lrspec gives lr {lr!r}, weight_decay {wd!r}, the tool gives "
                                 f"lr {expected.lr[n]!r}, weight_decay {expected.weight_decay[n]!r}")
        base = data["optimizer"]
        by_value: dict[tuple[float | None, float | None], list[str]] = {}
        for n, lr, wd in wrong:
            fix_lr = None if _close(lr, expected.lr[n]) else expected.lr[n]
            fix_wd = None if _close(wd, expected.weight_decay[n]) else expected.weight_decay[n]
            if fix_lr is not None and data.get("layer_decay") is not None:
                raise RecipeError(n, f"cannot import exactly: lrspec gives lr {lr!r}, the tool {expected.lr[n]!r}")
            by_value.setdefault((fix_lr, fix_wd), []).append(n)
        for k, ((fix_lr, fix_wd), group_names) in enumerate(by_value.items()):
            gname = f"exact_{k}"
            group: dict[str, Any] = {"name": gname, "params": [name_pattern(n) for n in group_names]}
            if fix_lr is not None:
                group["lr_mult"] = fix_lr / base["lr"]
                if schedule_for is not None:
                    group["schedule"] = schedule_for(group["lr_mult"])
            if fix_wd is not None:
                group["weight_decay"] = fix_wd
            data.setdefault("groups", []).append(group)
            sources[gname] = "explicit names: the tool's own rule for these parameters, which the rules above miss"
            warnings.append(f"{len(group_names)} parameter(s) ({group_names[0]}, ...) needed explicit names "
                            "(a module-type rule that lrspec's selectors do not express exactly)")
    return data


def warn_all(imported: Imported) -> None:
    """Issue each of ``imported.warnings`` as a :class:`UserWarning` (the library entry points)."""
    import warnings as _warnings

    for w in imported.warnings:
        _warnings.warn(f"lrspec import {imported.tool}: {w}", UserWarning, stacklevel=3)
