"""The Plan: lrspec's intermediate representation.

A :class:`Plan` is what a spec means for one concrete set of parameter names. It is
immutable, JSON-serialisable (:meth:`Plan.to_dict`), lists every parameter exactly once, and
groups parameters whose effective settings are identical into :class:`PlanGroup`\\ s. Every
target compiles a Plan and nothing else, so this is where per-parameter semantics are fixed:

* ``lr(name, t) = group.lr * m(t)`` where ``m`` is the group's schedule and ``t`` counts the
  updates already applied (the first update uses ``t = 0``); ``group.lr`` already includes
  any ``lr_mult`` and layer-decay factor.
* A permanently frozen group (``frozen``) gets no update, no state and no weight decay; its
  lr is reported as 0.
* A group with ``frozen_until = N`` gets lr 0 (no update, no state, no weight decay) for
  ``t < N`` and ``group.lr * m(t)`` from ``t = N`` on, with optimizer state created fresh at N
  (the schedule clock does not restart).

These rules are computed here and nowhere else: explain, plotting, the reference, the
targets' schedulers and the emitters read them through :meth:`PlanGroup.lr_at`,
:meth:`PlanGroup.is_frozen_at`, :meth:`PlanGroup.multiplier`, :attr:`PlanGroup.trains_from`,
:meth:`Plan.lrs_at` and :meth:`Plan.freeze_timeline`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lrspec import schedules
from lrspec.spec.families import decoupled_weight_decay
from lrspec.spec.models import OptimizerSpec, Schedule

if TYPE_CHECKING:
    from lrspec.resolve.params import ModuleInfo

__all__ = ["ParamInfo", "Plan", "PlanGroup"]


@dataclass(frozen=True, eq=False)
class PlanGroup:
    """Parameters that share every effective setting.

    ``sources`` are the spec groups (file order) whose patterns matched these parameters;
    ``family`` is the optimizer family that updates them (the last matching spec group setting
    ``optimizer``, else the spec's optimizer); ``hyperparameters`` are exactly that family's
    hyperparameters (:data:`lrspec.spec.families.FAMILY_HYPERPARAMETERS`) with torch's names,
    pairs/triples as tuples (e.g. ``{"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}``
    for adam).
    """

    name: str
    params: tuple[str, ...]
    sources: tuple[str, ...]
    lr: float
    weight_decay: float
    hyperparameters: Mapping[str, Any]
    schedule: Schedule
    frozen: bool = False
    frozen_until: int | None = None
    layer: int | None = None
    freeze_statistics: bool = False
    """Only on permanently frozen groups: the targets also keep the normalization layers owning
    these parameters in inference mode (Keras ``trainable = False``; torch: ``eval()`` kept
    through ``model.train()``), so their running statistics are not updated."""
    family: str = ""
    """The group's optimizer family (always set by :func:`lrspec.resolve`)."""
    _show_family: bool = field(default=False, repr=False)
    """Whether :meth:`to_dict` writes ``family``: only in plans whose groups use a family other
    than the spec's optimizer (so plans of single-family specs serialise as before)."""

    @property
    def decoupled_weight_decay(self) -> bool:
        """True when this group's weight decay is decoupled (``p *= 1 - lr*wd``: adamw, muon,
        adafactor, nadam/radam with ``decoupled_weight_decay``); else coupled (``g += wd*p``)."""
        return decoupled_weight_decay(self.family, self.hyperparameters)

    @cached_property
    def _fn(self) -> schedules.ScheduleFn:
        return schedules.from_spec(self.schedule)

    def multiplier(self, t: int) -> float:
        """m(t): the schedule's multiplier at update t (ignores freezes)."""
        return self._fn(t)

    @cached_property
    def schedule_key(self) -> str:
        """The schedule as canonical JSON text: groups with equal keys have the same m(t)."""
        return json.dumps(self.schedule.model_dump(mode="json"), sort_keys=True)

    @property
    def trains_from(self) -> int | None:
        """The first update at which the group trains: 0 (never frozen), N (frozen until N), or
        None (permanently frozen)."""
        if self.frozen:
            return None
        return self.frozen_until if self.frozen_until is not None else 0

    def is_frozen_at(self, t: int) -> bool:
        """True when the group gets no update at update ``t``."""
        return self.frozen or (self.frozen_until is not None and t < self.frozen_until)

    def lr_at(self, t: int) -> float:
        """The learning rate used at update ``t``: 0.0 while frozen, else ``lr * m(t)``."""
        return self._lr(t, None)

    def _lr(self, t: int, multiplier: float | None) -> float:
        """``lr_at(t)``, with m(t) given when the caller already evaluated it."""
        if self.is_frozen_at(t):
            return 0.0
        return self.lr * (self._fn(t) if multiplier is None else multiplier)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": list(self.params),
            "sources": list(self.sources),
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "hyperparameters": {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyperparameters.items()},
            "schedule": self.schedule.model_dump(mode="json"),
            "frozen": self.frozen,
            "frozen_until": self.frozen_until,
            "layer": self.layer,
            # only when set, so that plans without it serialise (and fingerprint) as before
            **({"freeze_statistics": True} if self.freeze_statistics else {}),
            **({"family": self.family} if self._show_family else {}),
        }


@dataclass(frozen=True)
class ParamInfo:
    """How one parameter was resolved."""

    name: str
    group: PlanGroup
    matched: tuple[str, ...]
    layer: int | None
    shape: tuple[int, ...] | None
    module: ModuleInfo | None = None
    """The owning module (class names, roles) when the parameter list carried it, else None."""


@dataclass(frozen=True, eq=False)
class Plan:
    """A resolved spec: which parameter gets which settings. Build it with :func:`lrspec.resolve`."""

    optimizer: OptimizerSpec
    groups: tuple[PlanGroup, ...]
    names: tuple[str, ...]
    _group_index: Sequence[int] = field(repr=False)
    _combo_index: Sequence[int] = field(repr=False)
    _combos: tuple[tuple[str, ...], ...] = field(repr=False)
    _layers: Sequence[int] = field(repr=False)
    _shapes: tuple[tuple[int, ...] | None, ...] = field(repr=False)
    layer_names: tuple[str, ...] = ()
    _modules: tuple[ModuleInfo | None, ...] | None = field(default=None, repr=False)

    @property
    def family(self) -> str:
        """The spec's top-level optimizer family (``optimizer.type``); groups may use others
        (:attr:`PlanGroup.family`, :attr:`families`)."""
        return self.optimizer.type

    @cached_property
    def families(self) -> tuple[str, ...]:
        """The distinct families of the groups, in first-appearance order (frozen groups included)."""
        return tuple(dict.fromkeys(g.family or self.family for g in self.groups))

    @property
    def mixed_families(self) -> bool:
        """True when the groups use more than one family."""
        return len(self.families) > 1

    @property
    def decoupled_weight_decay(self) -> bool:
        """The weight-decay convention of the top-level family with its own hyperparameters (see
        :attr:`PlanGroup.decoupled_weight_decay` for each group's, which is what counts)."""
        opt = self.optimizer
        return decoupled_weight_decay(self.family, {k: getattr(opt, k, None) for k in ("decoupled_weight_decay",)})

    @cached_property
    def _position(self) -> dict[str, int]:
        return {n: k for k, n in enumerate(self.names)}

    def _pos(self, name: str) -> int:
        try:
            return self._position[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a parameter of this plan") from None

    def group_of(self, name: str) -> PlanGroup:
        """The plan group of parameter ``name``."""
        return self.groups[self._group_index[self._pos(name)]]

    def param(self, name: str) -> ParamInfo:
        """Everything known about how ``name`` was resolved."""
        k = self._pos(name)
        layer = self._layers[k]
        return ParamInfo(
            name=name,
            group=self.groups[self._group_index[k]],
            matched=self._combos[self._combo_index[k]],
            layer=None if layer < 0 else int(layer),
            shape=self._shapes[k],
            module=None if self._modules is None else self._modules[k],
        )

    def lr(self, name: str, t: int) -> float:
        """The lr parameter ``name`` gets at update ``t`` (0.0 while frozen)."""
        return self.group_of(name).lr_at(t)

    def group(self, name: str) -> PlanGroup:
        """The plan group called ``name``."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no plan group {name!r}; groups: {', '.join(g.name for g in self.groups)}")

    def lrs_at(self, t: int, groups: Sequence[PlanGroup] | None = None) -> list[float]:
        """``[g.lr_at(t) for g in groups]`` (default: every group), evaluating each distinct
        schedule once (groups that share a schedule share m(t))."""
        multipliers: dict[str, float] = {}
        out: list[float] = []
        for g in self.groups if groups is None else groups:
            m = None
            if not g.is_frozen_at(t):
                m = multipliers.get(g.schedule_key)
                if m is None:
                    m = multipliers[g.schedule_key] = g.multiplier(t)
            out.append(g._lr(t, m))
        return out

    def freeze_timeline(self) -> tuple[tuple[int, tuple[PlanGroup, ...]], ...]:
        """``((N, groups that start training at update N), ...)`` for every N > 0, ascending
        (the groups with ``frozen_until = N``, in plan order). Empty when nothing unfreezes."""
        steps: dict[int, list[PlanGroup]] = {}
        for g in self.groups:
            start = g.trains_from
            if start:
                steps.setdefault(start, []).append(g)
        return tuple((n, tuple(steps[n])) for n in sorted(steps))

    @property
    def trainable_groups(self) -> tuple[PlanGroup, ...]:
        """Groups that train at some point (everything but permanent freezes)."""
        return tuple(g for g in self.groups if not g.frozen)

    @property
    def frozen_params(self) -> tuple[str, ...]:
        """Names of permanently frozen parameters."""
        return tuple(n for g in self.groups if g.frozen for n in g.params)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: ``{"optimizer": ..., "groups": [...], "params": {...}, ...}``."""
        params: dict[str, Any] = {}
        for k, name in enumerate(self.names):
            layer = self._layers[k]
            shape = self._shapes[k]
            params[name] = {
                "group": self.groups[self._group_index[k]].name,
                "matched": list(self._combos[self._combo_index[k]]),
                "layer": None if layer < 0 else int(layer),
                "shape": None if shape is None else list(shape),
            }
        return {
            "version": 1,
            "optimizer": self.optimizer.model_dump(mode="json"),
            "groups": [g.to_dict() for g in self.groups],
            "layers": list(self.layer_names),
            "params": params,
        }

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the plan's content; equal plans have equal fingerprints."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
