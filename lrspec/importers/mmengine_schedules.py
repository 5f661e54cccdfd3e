"""MMEngine's ``param_scheduler`` list as one lrspec schedule (mmengine 0.10,
``mmengine/optim/scheduler/param_scheduler.py``).

MMEngine's lr schedulers are chainable: each multiplies the current lr, is active on
``begin <= step < end`` of its clock (updates; epochs when ``by_epoch`` and not
``convert_to_iter_based``: stepped after each epoch, so the lr is constant within an epoch),
and its local step ``s = step - begin`` starts at 0. Closed forms (L: the multiplier when it
starts, e: ``eta_min`` over the group's lr, or ``eta_min_ratio``):

* ``LinearLR``: ``L * (sf + (ef - sf) * min(s, n) / n)``, ``n = end - begin - 1``;
* ``CosineAnnealingLR``: ``e + (L - e) * (1 + cos(pi * s / T)) / 2``, ``T = T_max or end - begin``;
* ``PolyLR``: ``e + (L - e) * (1 - s / n) ** power``;
* ``ExponentialLR``: ``L * gamma ** s``; ``StepLR``: ``L * gamma ** (s // step_size)``;
* ``MultiStepLR``: ``L * gamma ** #{milestones <= s}``; ``ConstantLR``: ``L * factor`` for
  ``s < n``, then ``L``.

After ``end`` the lr stays at the last value set. Schedulers must follow one another (one
starts changing the lr after the previous one's ``end``); overlapping ones are refused, as
are periodic cosines (``s > T``) and non-linear shapes starting from ``L != 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lrspec.importers._common import RecipeError
from lrspec.importers._schedules import Piece, hold, join, tabulate

__all__ = ["INF", "build_schedule", "has_absolute_floor"]

INF = 2**63 - 1
_TYPES = ("LinearLR", "CosineAnnealingLR", "PolyLR", "ExponentialLR", "StepLR", "MultiStepLR", "ConstantLR")
_KEYS: dict[str, dict[str, Any]] = {
    "LinearLR": {"start_factor": 1.0 / 3, "end_factor": 1.0},
    "CosineAnnealingLR": {"T_max": None, "eta_min": None, "eta_min_ratio": None},
    "PolyLR": {"eta_min": 0.0, "power": 1.0},
    "ExponentialLR": {"gamma": None},
    "StepLR": {"step_size": None, "gamma": 0.1},
    "MultiStepLR": {"milestones": None, "gamma": 0.1},
    "ConstantLR": {"factor": 1.0 / 3},
}


@dataclass(frozen=True)
class _Sched:
    key: str
    type: str
    begin: int
    end: int
    unit: int  # updates per step of its clock (1, or iters per epoch for epoch-stepped ones)
    kw: dict[str, Any]

    def factor(self, s: int, level: float, lr_ratio: float) -> float:
        """The multiplier at local step s of this scheduler's clock, starting from ``level``."""
        k, n = self.kw, self.end - self.begin - 1
        return float(self._factor(s, level, lr_ratio, k, n))

    def _factor(self, s: int, level: float, lr_ratio: float, k: dict[str, Any], n: int) -> Any:
        if self.type == "LinearLR":
            return level * (k["start_factor"] + (k["end_factor"] - k["start_factor"]) * min(s, n) / n)
        if self.type == "CosineAnnealingLR":
            if s > self.t_max:
                raise RecipeError(f"{self.key}.T_max", "cannot import exactly: the cosine runs past T_max (periodic)")
            e = self._floor(lr_ratio)
            return e + (level - e) * (1 + math.cos(math.pi * s / self.t_max)) / 2
        if self.type == "PolyLR":
            e = float(k["eta_min"]) / lr_ratio
            return e + (level - e) * (1 - s / n) ** k["power"]
        if self.type == "ExponentialLR":
            return level * k["gamma"] ** s
        if self.type == "StepLR":
            return level * k["gamma"] ** (s // k["step_size"])
        if self.type == "MultiStepLR":
            return level * k["gamma"] ** sum(1 for m in k["milestones"] if m <= s)
        return level * (k["factor"] if s < n else 1.0)

    def _floor(self, lr_ratio: float) -> float:
        if self.kw["eta_min_ratio"] is not None:
            return float(self.kw["eta_min_ratio"])
        return float(self.kw["eta_min"] or 0.0) / lr_ratio

    @property
    def t_max(self) -> int:
        return int(self.kw["T_max"] or (self.end - self.begin))


def _parse(entries: Any, iters_per_epoch: int | None) -> list[_Sched]:
    if entries is None:
        return []
    if isinstance(entries, Mapping):
        entries = [entries]
    out = []
    for j, raw in enumerate(entries):
        key = f"param_scheduler[{j}]"
        if not isinstance(raw, Mapping) or "type" not in raw:
            raise RecipeError(key, "a scheduler is a dict with a type")
        d = dict(raw)
        kind = str(d.pop("type"))
        if kind not in _TYPES:
            raise RecipeError(f"{key}.type", f"{kind!r}: cannot import exactly (lrspec imports {', '.join(_TYPES)})")
        by_epoch = bool(d.pop("by_epoch", True))
        convert = bool(d.pop("convert_to_iter_based", False))
        begin, end = int(d.pop("begin", 0)), d.pop("end", INF)
        end = INF if end is None or end >= INF else int(end)
        d.pop("verbose", None)
        if d.pop("last_step", -1) != -1:
            raise RecipeError(f"{key}.last_step", "resuming schedulers is not imported")
        kw: dict[str, Any] = dict(_KEYS[kind])
        for name, value in d.items():
            if name not in kw:
                raise RecipeError(f"{key}.{name}", f"not an argument of {kind} lrspec imports")
            kw[name] = value
        for name, value in kw.items():
            if value is None and name not in ("T_max", "eta_min", "eta_min_ratio"):
                raise RecipeError(f"{key}.{name}", f"{kind} needs {name}")
        if kind == "CosineAnnealingLR" and kw["eta_min"] is not None and kw["eta_min_ratio"] is not None:
            raise RecipeError(key, "give eta_min or eta_min_ratio, not both")
        unit = 1
        if by_epoch:
            if not iters_per_epoch:
                raise RecipeError(f"{key}.by_epoch", "this scheduler counts epochs: give --iters-per-epoch")
            if convert:
                begin, end = begin * iters_per_epoch, end if end == INF else end * iters_per_epoch
                if kind == "CosineAnnealingLR" and kw["T_max"] is not None:
                    kw["T_max"] = kw["T_max"] * iters_per_epoch
                if kind == "StepLR":
                    kw["step_size"] = kw["step_size"] * iters_per_epoch
                if kind == "MultiStepLR":
                    kw["milestones"] = [m * iters_per_epoch for m in kw["milestones"]]
            else:
                unit = iters_per_epoch
        if kind == "MultiStepLR" and len(set(kw["milestones"])) != len(kw["milestones"]):
            raise RecipeError(f"{key}.milestones", "repeated milestones are not imported")
        if kind in ("LinearLR", "PolyLR", "ConstantLR") and (end == INF or end - begin < 2):
            raise RecipeError(f"{key}.end", f"{kind} needs a finite end at least 2 steps after begin")
        out.append(_Sched(key, kind, begin, end, unit, kw))
    return sorted(out, key=lambda s: s.begin * s.unit)


def has_absolute_floor(entries: Any, iters_per_epoch: int | None) -> bool:
    """True when a scheduler has an absolute ``eta_min`` (its multiplier depends on the group's lr)."""
    return any(s.type in ("CosineAnnealingLR", "PolyLR") and float(s.kw.get("eta_min") or 0.0) != 0.0
               and s.kw.get("eta_min_ratio") is None for s in _parse(entries, iters_per_epoch))


def _first_change(s: _Sched) -> int:
    """The first local step at which the scheduler changes the lr."""
    if s.type == "StepLR":
        return int(s.kw["step_size"])
    if s.type == "MultiStepLR":
        return min(s.kw["milestones"]) if s.kw["milestones"] else INF
    return 0


def _staircase(s: _Sched, start: int, level: float, ratio: float) -> tuple[dict[str, Any], float]:
    """An exact piecewise node from global update ``start`` to the scheduler's (finite) end, and
    the multiplier it leaves: ``level`` before ``begin``, then the value of each step of its clock."""
    vals = [s.factor(k, level, ratio) for k in range(s.end - s.begin)]
    b0 = s.begin * s.unit
    seq = [level if t < b0 else vals[(t - b0) // s.unit] for t in range(start, s.end * s.unit)]
    return tabulate(seq, 1, s.key), vals[-1]


def _piece(s: _Sched, start: int, level: float, ratio: float) -> tuple[dict[str, Any], float | None]:
    """(node from global update ``start``, multiplier after the end, None when it never ends)."""
    k = s.kw
    finite = s.end != INF
    if s.type == "MultiStepLR" and not finite:
        ms = sorted(s.begin * s.unit + m * s.unit - start for m in k["milestones"])
        first = sum(1 for b in ms if b <= 0)
        bounds = [b for b in ms if b > 0]
        vals = [level * k["gamma"] ** j for j in range(first, len(ms) + 1)]
        if not bounds:
            return hold(vals[0]), None
        return {"type": "piecewise", "boundaries": bounds, "values": vals}, None
    if s.unit != 1 or (finite and s.type in ("StepLR", "MultiStepLR", "ConstantLR", "ExponentialLR")):
        if not finite:
            raise RecipeError(f"{s.key}.end", "cannot import exactly: an epoch-stepped scheduler without end")
        if s.unit == 1:
            vals = [s.factor(j, level, ratio) for j in range(s.end - s.begin)]
            pad = [level] * (s.begin - start)
            return tabulate(pad + vals, 1, s.key), vals[-1]
        return _staircase(s, start, level, ratio)
    if s.begin != start:
        raise RecipeError(s.key, "internal: a continuous piece must start at its begin")
    if s.type == "LinearLR":
        n = s.end - s.begin - 1
        return ({"type": "linear", "start_mult": level * k["start_factor"], "end_mult": level * k["end_factor"],
                 "steps": n}, level * k["end_factor"])
    if level != 1.0:
        raise RecipeError(s.key, f"cannot import exactly: {s.type} starting from {level!r} times the lr "
                                 "(lrspec's shape starts at 1)")
    if s.type == "StepLR":
        return {"type": "step", "step_size": int(k["step_size"]), "gamma": float(k["gamma"])}, None
    if s.type == "ExponentialLR":
        return {"type": "exponential", "decay_rate": float(k["gamma"]), "decay_steps": 1}, None
    if s.type == "CosineAnnealingLR":
        if not finite and k["T_max"] is None:
            raise RecipeError(s.key, "CosineAnnealingLR needs T_max or end")
        if not finite or s.end - s.begin - 1 > s.t_max:
            raise RecipeError(f"{s.key}.T_max", "cannot import exactly: the cosine runs past T_max (periodic)")
        e = s._floor(ratio)
        if not 0 <= e <= 1:
            raise RecipeError(f"{s.key}.eta_min", f"gives a floor of {e!r} times this group's lr (outside [0, 1])")
        return ({"type": "cosine", "decay_steps": s.t_max, "min_mult": e},
                s.factor(s.end - s.begin - 1, 1.0, ratio))
    n = s.end - s.begin - 1
    e = float(k["eta_min"]) / ratio
    if not 0 <= e <= 1:
        raise RecipeError(f"{s.key}.eta_min", f"gives a floor of {e!r} times this group's lr (outside [0, 1])")
    return ({"type": "polynomial", "decay_steps": n, "power": float(k["power"]), "end_mult": e},
            s.factor(n, 1.0, ratio))


def build_schedule(entries: Any, iters_per_epoch: int | None, group_lr: float) -> dict[str, Any]:
    """The schedule of ``param_scheduler`` for a group whose lr is ``group_lr`` (it matters only
    for absolute ``eta_min`` floors, which are ``eta_min / group_lr`` as multipliers)."""
    scheds = _parse(entries, iters_per_epoch)
    pieces: list[Piece] = []
    level, cursor = 1.0, 0
    for s in scheds:
        begin = s.begin * s.unit
        changes = begin + _first_change(s) * s.unit
        if changes < cursor:
            raise RecipeError(s.key, "cannot import exactly: it changes the lr while the previous scheduler is still "
                                     "active (overlapping schedulers)")
        staircase = s.unit != 1 or s.type == "MultiStepLR" or (
            s.end != INF and s.type in ("StepLR", "ConstantLR", "ExponentialLR"))
        start = cursor if staircase else begin
        if start > cursor:
            pieces.append(Piece(cursor, hold(level)))
        node, after = _piece(s, start, level, group_lr)
        pieces.append(Piece(start, node))
        if after is None:
            cursor = INF
            break
        level, cursor = after, s.end * s.unit
    else:
        if pieces and cursor != INF:
            pieces.append(Piece(cursor, hold(level)))
    _check_all_used(scheds)
    return join(pieces) if pieces else hold(1.0)


def _check_all_used(scheds: Sequence[_Sched]) -> None:
    ends = [s for s in scheds if s.end == INF]
    if ends and ends[0] is not scheds[-1]:
        raise RecipeError(scheds[-1].key, f"cannot import exactly: it starts while {ends[0].key} (without end) is active")

