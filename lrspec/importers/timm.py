"""``lrspec import timm ARGS.yaml``: the ``args.yaml`` that timm's ``train.py`` writes.

Semantics followed (timm 1.0.x, ``timm/optim/_optim_factory.py``, ``_param_groups.py``,
``timm/scheduler/*``, and ``train.py``'s argparse defaults for missing keys):

* optimizer ``opt`` (``sgd``/``nesterov``: SGD with Nesterov, ``momentum``: SGD, ``adam``,
  ``adamw``, ``nadam``, ``radam``, ``radamw``, ``adamax``, ``rmsprop`` (alpha 0.9),
  ``adagrad`` (eps 1e-8), ``adadelta``: the torch classes timm uses) with ``lr``,
  ``momentum`` (only optimizers that take it), ``opt_eps``, ``opt_betas``, ``opt_kwargs``;
* no weight decay for parameters with ``ndim <= 1``, names matching the model's
  ``no_weight_decay()`` (fnmatch globs) and, without layer decay, names ending in ``.bias``;
  ``weight_decay: 0`` means none at all;
* ``layer_decay``: layer ids from ``model.group_matcher(coarse=False)`` (timm's
  ``group_with_matcher`` ordinals, ``MATCH_PREV_GROUP`` joins the previous layer, unmatched
  names form the last layer); scale ``layer_decay ** (layer_max - layer_id)``, applied by
  the scheduler (``sched: none`` applies no scale, as in timm);
* the scheduler, stepped as ``train.py`` steps it: per epoch (``step(epoch + 1)`` at each
  epoch's end; the lr is constant within an epoch) or, with ``sched_on_updates``, per update
  (``step_update(num_updates)``). Its lr is written as a table of multipliers of ``lr``,
  exact over the ``num_epochs`` timm trains (``epochs`` + ``cooldown_epochs``), then held.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from itertools import chain
from typing import Any

from lrspec.importers._common import (
    Expected,
    Imported,
    ParamView,
    RecipeError,
    check_exact,
    model_params,
    optimizer_node,
)
from lrspec.importers._layers import layer_entries
from lrspec.importers._schedules import Piece, join, tabulate
from lrspec.spec.models import Spec

__all__ = ["TRAIN_DEFAULTS", "from_timm", "import_timm"]

#: timm train.py's argparse defaults for the keys the import reads.
TRAIN_DEFAULTS: dict[str, Any] = {
    "opt": "sgd", "lr": None, "weight_decay": 2e-5, "momentum": 0.9, "opt_eps": None, "opt_betas": None,
    "opt_kwargs": {}, "layer_decay": None, "layer_decay_min_scale": 0.0, "layer_decay_no_opt_scale": None,
    "sched": "cosine", "sched_on_updates": False, "epochs": 300, "warmup_epochs": 5, "warmup_lr": 1e-5,
    "warmup_prefix": False, "min_lr": 0.0, "decay_rate": 0.1, "decay_epochs": 90.0,
    "decay_milestones": [90, 180, 270], "cooldown_epochs": 0, "lr_noise": None, "lr_cycle_mul": 1.0,
    "lr_cycle_decay": 0.5, "lr_cycle_limit": 1, "lr_k_decay": 1.0, "grad_accum_steps": 1, "clip_grad": None,
}

#: timm optimizer name -> (lrspec family, timm's defaults, takes momentum, takes eps, takes betas).
_OPTIMIZERS: dict[str, tuple[str, dict[str, Any], bool, bool, bool]] = {
    "sgd": ("sgd", {"nesterov": True}, True, False, False),
    "nesterov": ("sgd", {"nesterov": True}, True, False, False),
    "momentum": ("sgd", {"nesterov": False}, True, False, False),
    "adam": ("adam", {}, False, True, True),
    "adamw": ("adamw", {}, False, True, True),
    "nadam": ("nadam", {}, False, True, True),
    "radam": ("radam", {}, False, True, True),
    "radamw": ("radam", {"decoupled_weight_decay": True}, False, True, True),
    "adamax": ("adamax", {}, False, True, True),
    "rmsprop": ("rmsprop", {"alpha": 0.9}, True, True, False),
    "adagrad": ("adagrad", {"eps": 1e-8}, False, True, False),
    "adadelta": ("adadelta", {}, False, True, False),
}
_SCHEDULERS = ("cosine", "step", "multistep", "poly", "constant", "none")
_TIMM_OTHER = ("plateau", "tanh", "wsd", "rsqrt")
_MATCH_PREV = 99999.0


def _args(args: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(args, Mapping):
        raise RecipeError("", f"timm args must be a mapping (args.yaml), got {type(args).__name__}")
    a = dict(TRAIN_DEFAULTS)
    a.update({str(k).replace("-", "_"): v for k, v in args.items()})
    return a


def _optimizer(a: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = str(a["opt"]).lower()
    parts = name.split("_")
    if len(parts) > 1:
        raise RecipeError("opt", f"{a['opt']!r}: timm's {parts[0]!r} wrapper is not an optimizer lrspec defines")
    if name not in _OPTIMIZERS:
        raise RecipeError("opt", f"{a['opt']!r} is timm's own optimizer, not a torch.optim class lrspec defines; "
                          f"importable: {', '.join(_OPTIMIZERS)}")
    family, defaults, has_momentum, has_eps, has_betas = _OPTIMIZERS[name]
    kw: dict[str, Any] = {}
    if a["opt_eps"] is not None and has_eps:
        kw["eps"] = float(a["opt_eps"])
    if a["opt_betas"] is not None and has_betas:
        kw["betas"] = tuple(float(b) for b in a["opt_betas"])
    kw.update(a.get("opt_kwargs") or {})
    for k, v in defaults.items():
        kw.setdefault(k, v)
    if has_momentum:
        kw.setdefault("momentum", float(a["momentum"]))
    for k in ("weight_decay", "lr", "foreach", "fused"):
        kw.pop(k, None)
    return family, kw


def _layer_map(model: Any, names: list[str]) -> dict[str, int]:
    """timm's ``group_parameters(model, model.group_matcher(coarse=False), reverse=True)``."""
    matcher_fn = getattr(model, "group_matcher", None)
    if not callable(matcher_fn):
        raise RecipeError("layer_decay", f"the model ({type(model).__name__}) has no group_matcher(); timm would fall "
                          "back to grouping by parameter count, which lrspec does not import")
    matcher = matcher_fn(coarse=False)
    compiled: list[tuple[re.Pattern[str], tuple[float, ...], Any]] = []
    fn: Callable[[str], Any] | None = None
    if isinstance(matcher, dict):
        for ordinal, spec in enumerate(matcher.values()):
            if spec is None:
                continue
            if isinstance(spec, (tuple, list)):
                compiled += [(re.compile(s[0]), (float(ordinal),), s[1]) for s in spec]
            else:
                compiled.append((re.compile(spec), (float(ordinal),), None))
    elif callable(matcher):
        fn = matcher
    else:
        raise RecipeError("layer_decay", "the model's group_matcher() returned neither a dict nor a function")

    def grouping(name: str) -> tuple[float, ...]:
        if fn is not None:
            o = fn(name)
            return tuple(map(float, o)) if isinstance(o, (tuple, list)) else (float(o),)
        for rx, prefix, suffix in compiled:
            m = rx.match(name)
            if m:
                parts = (prefix, m.groups(), suffix)
                return tuple(map(float, chain.from_iterable(p for p in parts if p)))
        return (math.inf,)

    groups: dict[tuple[float, ...], list[str]] = defaultdict(list)
    for n in names:
        groups[grouping(n)].append(n)
    out: dict[str, int] = {}
    lid = -1
    for key in sorted(groups):
        if lid < 0 or key[-1] != _MATCH_PREV:
            lid += 1
        for n in groups[key]:
            out[n] = lid
    return out


def _sched_fn(a: dict[str, Any], lr: float, steps_per_epoch: int | None) -> tuple[Callable[[int], float], int, int]:
    """(f(t), length of the run in scheduler ticks, updates per tick) of timm's scheduler."""
    sched = str(a["sched"])
    on_updates = bool(a["sched_on_updates"])
    if on_updates and not steps_per_epoch:
        raise RecipeError("sched_on_updates", "the schedule steps per update: give --steps-per-epoch "
                          "(optimizer updates per epoch)")
    u = steps_per_epoch if on_updates else 1
    assert u is not None
    t_initial, warmup_t = int(a["epochs"]) * u, int(a["warmup_epochs"]) * u
    cooldown_t = int(a["cooldown_epochs"]) * u
    wl, prefix, lr_min = float(a["warmup_lr"]), bool(a["warmup_prefix"]), float(a["min_lr"])
    rate = float(a["decay_rate"])
    steps = (lr - wl) / warmup_t if warmup_t else 1.0
    if a["lr_noise"] is not None:
        raise RecipeError("lr_noise", "cannot import exactly: timm's lr noise is random; lrspec schedules are not")
    if sched in ("cosine", "poly"):
        mul, cdecay, limit, k = (float(a["lr_cycle_mul"]), float(a["lr_cycle_decay"]), int(a["lr_cycle_limit"]),
                                 float(a["lr_k_decay"]))
        power = rate

        def f(t: int) -> float:
            if t < warmup_t:
                return wl + t * steps
            if prefix:
                t = t - warmup_t
            if mul != 1:
                i = math.floor(math.log(1 - t / t_initial * (1 - mul), mul))
                t_i = mul**i * t_initial
                t_curr = t - (1 - mul**i) / (1 - mul) * t_initial
            else:
                i = t // t_initial
                t_i = t_initial
                t_curr = t - (t_initial * i)
            lr_max = lr * cdecay**i
            if i >= limit:
                return lr_min
            if sched == "cosine":
                return float(lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_curr**k / t_i**k)))
            return float(lr_min + (lr_max - lr_min) * (1 - t_curr**k / t_i**k) ** power)

        cycles = max(1, limit)
        length = t_initial * cycles if mul == 1 else math.floor(-t_initial * (mul**cycles - 1) / (1 - mul))
        length = (length + warmup_t if prefix else length) + cooldown_t
        return f, length, u
    if sched in ("step", "multistep", "constant"):
        decay_t = float(a["decay_epochs"]) * u if sched == "step" else 1.0
        milestones = [int(m) * u for m in a["decay_milestones"]]
        if sched == "constant":
            rate = 1.0

        def f(t: int) -> float:
            if t < warmup_t:
                return wl + t * steps
            if prefix:
                t = t - warmup_t
            if sched == "multistep":
                import bisect

                return float(lr * rate ** bisect.bisect_right(milestones, t + 1))
            return float(lr * rate ** (t // decay_t))

        length = int(a["epochs"]) * u + (warmup_t if prefix else 0)
        return f, length, u
    raise RecipeError("sched", f"{sched!r}: lrspec imports timm's schedulers {', '.join(_SCHEDULERS)} (and names timm "
                      "does not know, which mean no scheduler)")


def _per_update_nodes(a: dict[str, Any], lr: float, u: int) -> list[Piece] | None:
    """lrspec nodes for a schedule stepped per update, where they are exact: the warmup is a
    prefix (or absent), one cycle, no k-decay; None otherwise (a table is written instead)."""
    sched, warmup_t = str(a["sched"]), int(a["warmup_epochs"]) * u
    if warmup_t and not a["warmup_prefix"]:
        return None
    if sched in ("cosine", "poly") and (int(a["lr_cycle_limit"]) != 1 or float(a["lr_k_decay"]) != 1.0):
        return None
    t_initial, lo = int(a["epochs"]) * u, float(a["min_lr"]) / lr
    if sched == "cosine":
        main: dict[str, Any] = {"type": "cosine", "decay_steps": t_initial, "min_mult": lo}
    elif sched == "poly":
        main = {"type": "polynomial", "decay_steps": t_initial, "power": float(a["decay_rate"]), "end_mult": lo}
    elif sched == "step":
        size = float(a["decay_epochs"]) * u
        if size != int(size):
            return None
        main = {"type": "step", "step_size": int(size), "gamma": float(a["decay_rate"])}
    elif sched == "multistep":  # timm decays when t + 1 reaches a milestone
        ms = [int(m) * u - 1 for m in a["decay_milestones"]]
        if any(m < 0 for m in ms) or len(set(ms)) != len(ms):
            return None
        main = {"type": "multistep", "milestones": sorted(ms), "gamma": float(a["decay_rate"])}
    else:
        main = {"type": "constant"}
    if not 0 <= lo <= 1:
        return None
    pieces = []
    if warmup_t:
        pieces.append(Piece(0, {"type": "linear", "start_mult": float(a["warmup_lr"]) / lr, "end_mult": 1.0,
                                "steps": warmup_t}))
    pieces.append(Piece(warmup_t, main))
    return pieces


def import_timm(args: Mapping[str, Any], model: Any, *, steps_per_epoch: int | None = None) -> Imported:
    """The spec that gives every parameter of ``model`` timm's lr and weight decay for ``args``
    (the mapping in ``args.yaml``), with the provenance of each part. ``steps_per_epoch``:
    optimizer updates per epoch (needed unless there is no scheduler)."""
    a = _args(args)
    if a["lr"] is None:
        raise RecipeError("lr", "is null: timm's train.py computes it at run time from lr_base, the batch size and the "
                          "number of processes; write the lr it printed into args.yaml")
    lr = float(a["lr"])
    wd = float(a["weight_decay"] or 0.0)
    family, kw = _optimizer(a)
    params = model_params(model)
    names = [p.name for p in params]
    warnings: list[str] = []
    sources: dict[str, str] = {"optimizer": f"opt: {a['opt']}, lr, weight_decay, momentum, opt_eps, opt_betas"}
    sched = str(a["sched"])
    if sched not in _SCHEDULERS:
        raise RecipeError("sched", f"{sched!r} is not a timm scheduler (timm {'' if sched in _TIMM_OTHER else 'itself '}"
                          f"{'has it, but lrspec cannot express it exactly' if sched in _TIMM_OTHER else 'raises Unknown scheduler'}"
                          f"); lrspec imports {', '.join(_SCHEDULERS)}")
    ld = a["layer_decay"] if sched != "none" else None
    if a["layer_decay"] is not None and sched == "none":
        warnings.append("layer_decay has no effect without a scheduler in timm (the scheduler applies lr_scale)")
    if a["layer_decay_no_opt_scale"] is not None and ld is not None:
        raise RecipeError("layer_decay_no_opt_scale", "cannot import: it freezes layers by scale, which lrspec does not")
    if float(a["layer_decay_min_scale"] or 0.0) > 0 and ld is not None:
        raise RecipeError("layer_decay_min_scale", "cannot import exactly: lrspec's layer decay has no floor")
    if int(a["grad_accum_steps"]) != 1:
        warnings.append("grad_accum_steps > 1: give --steps-per-epoch as optimizer updates per epoch")
    if a["clip_grad"] is not None:
        warnings.append(f"clip_grad {a['clip_grad']}: gradient clipping is not part of a spec; clip in the training loop")
    no_wd_list = list(getattr(model, "no_weight_decay", lambda: set())())

    def no_decay(p: ParamView) -> bool:
        if not wd:
            return True
        nd = p.ndim
        if nd is None:
            raise RecipeError("weight_decay", f"the shape of {p.name!r} is unknown (timm's rule keys on ndim)")
        is_1d = nd <= 1 or (ld is None and p.name.endswith(".bias"))
        return is_1d or any(fnmatch.fnmatch(p.name, pat) for pat in no_wd_list)

    data: dict[str, Any] = {"version": 1, "optimizer": optimizer_node(family, lr, wd, "opt", **kw)}
    groups: list[dict[str, Any]] = []
    if wd:
        groups.append({"name": "no_decay_1d", "params": ["*"], "ndim": [0, 1], "weight_decay": 0.0})
        sources["no_decay_1d"] = "timm: parameters with ndim <= 1 get no weight decay (weight_decay_exclude_1d)"
        if ld is None:
            groups.append({"name": "no_decay_bias", "params": ["*.bias"], "weight_decay": 0.0, "optional": True})
            sources["no_decay_bias"] = "timm: names ending in .bias get no weight decay"
        if no_wd_list:
            groups.append({"name": "no_weight_decay", "params": [str(x) for x in no_wd_list], "weight_decay": 0.0,
                           "optional": True})
            sources["no_weight_decay"] = "model.no_weight_decay()"
    else:
        data["optimizer"]["weight_decay"] = 0.0
    data["groups"] = groups
    expected = Expected()
    layer_of: dict[str, int] = {}
    layer_max = 0
    if ld is not None:
        layer_of = _layer_map(model, names)
        layer_max = max(layer_of.values())
        data["layer_decay"] = {"rate": float(ld), "layers": layer_entries(names, layer_of)}
        sources["layer_decay"] = "layer_decay, layer ids of model.group_matcher(coarse=False)"
    for p in params:
        if not p.trainable:
            continue
        scale = float(ld) ** (layer_max - layer_of[p.name]) if ld is not None else 1.0
        expected.lr[p.name] = lr * scale
        expected.weight_decay[p.name] = 0.0 if no_decay(p) else wd
    if sched != "none":
        f, length, unit = _sched_fn(a, lr, steps_per_epoch)
        if unit == 1 and not steps_per_epoch:
            raise RecipeError("sched", "timm steps this schedule per epoch: give --steps-per-epoch (optimizer updates "
                              "per epoch) so that epochs become updates")
        per = steps_per_epoch if unit == 1 else 1
        assert per is not None
        structured = _per_update_nodes(a, lr, unit) if unit != 1 else None
        if structured is not None:
            data["schedule"] = join(structured)
        else:
            data["schedule"] = join([Piece(0, tabulate([f(t) / lr for t in range(length + 1)], per, "sched"))])
        sources["schedule"] = (f"sched: {a['sched']} ({'per update' if unit != 1 else 'per epoch'}), epochs, "
                               "warmup_epochs, warmup_lr, min_lr, decay_rate, ...")
    data = check_exact(data, params, expected, sources, warnings)
    return Imported(Spec.model_validate(data), "timm", sources, tuple(warnings))


def from_timm(args: Mapping[str, Any], model: Any, *, steps_per_epoch: int | None = None) -> Spec:
    """The spec of :func:`import_timm` (its warnings are issued as :class:`UserWarning`)."""
    from lrspec.importers._common import warn_all

    imported = import_timm(args, model, steps_per_epoch=steps_per_epoch)
    warn_all(imported)
    return imported.spec
