"""``lrspec import mmengine CONFIG``: ``optim_wrapper`` (or ``optimizer``) with ``paramwise_cfg``,
plus ``param_scheduler``.

Semantics followed (mmengine 0.10, ``DefaultOptimWrapperConstructor.add_params``), for each
parameter ``name`` of a module, ``full = prefix.name``:

* ``custom_keys``: the keys sorted by name, then by length, longest first; the first key that
  is a substring of ``full`` gives ``lr = lr * lr_mult`` and ``weight_decay = weight_decay *
  decay_mult`` (each default 1) and disables every built-in rule for that parameter
  (``lr_mult: 0`` trains nothing: imported as a freeze);
* otherwise ``bias_lr_mult`` for ``name == "bias"`` outside norm layers; and the first of
  ``norm_decay_mult`` (``_BatchNorm``, ``_InstanceNorm``, ``GroupNorm``, ``LayerNorm``
  modules), ``bias_decay_mult`` (``name == "bias"``), ``dwconv_decay_mult`` (``Conv2d`` with
  ``in_channels == groups``), ``flat_decay_mult`` (1-D parameters);
* schedulers: :mod:`lrspec.importers.mmengine_schedules`.

The rules become spec groups (later groups win, so higher precedence comes later); the
module-type rules use the ``modules`` selector with class names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrspec.importers._common import (
    Expected,
    Imported,
    ParamView,
    RecipeError,
    check_exact,
    model_params,
    name_pattern,
    needs_modules,
    needs_shapes,
    optimizer_node,
    warn_all,
)
from lrspec.importers.mmengine_schedules import build_schedule, has_absolute_floor
from lrspec.spec.families import FAMILY_DEFAULTS
from lrspec.spec.models import Spec

__all__ = ["NORM_CLASSES", "from_mmengine", "import_mmengine"]

#: The classes of mmengine's ``is_norm`` (isinstance; class names of the MRO).
NORM_CLASSES = ("_BatchNorm", "_InstanceNorm", "GroupNorm", "LayerNorm")
_FAMILIES = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw", "RMSprop": "rmsprop", "Adagrad": "adagrad",
             "NAdam": "nadam", "RAdam": "radam", "Adamax": "adamax", "Adadelta": "adadelta"}
_PARAMWISE = ("custom_keys", "bias_lr_mult", "bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult",
              "flat_decay_mult", "bypass_duplicate")
_BIAS = ["bias", "*.bias"]


def _wrapper(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], list[str]]:
    """(key, optimizer cfg, paramwise cfg, notes)."""
    notes: list[str] = []
    if "optim_wrapper" in cfg:
        key, ow = "optim_wrapper", dict(cfg["optim_wrapper"])
        kind = ow.pop("type", "OptimWrapper")
        if kind not in ("OptimWrapper", "AmpOptimWrapper"):
            raise RecipeError(f"{key}.type", f"{kind!r}: lrspec imports OptimWrapper and AmpOptimWrapper")
        constructor = ow.pop("constructor", "DefaultOptimWrapperConstructor")
        if constructor != "DefaultOptimWrapperConstructor":
            raise RecipeError(f"{key}.constructor", f"{constructor!r}: only DefaultOptimWrapperConstructor's rules "
                              "are imported")
        if int(ow.pop("accumulative_counts", 1)) != 1:
            raise RecipeError(f"{key}.accumulative_counts", "cannot import exactly: the schedulers step every "
                              "iteration but the optimizer every accumulative_counts")
        if ow.pop("clip_grad", None) is not None:
            notes.append("clip_grad: gradient clipping is not part of a spec (clip in the training loop)")
        for k in ("loss_scale", "dtype"):
            ow.pop(k, None)
        if "optimizer" not in ow:
            raise RecipeError(key, "has no optimizer")
        opt = dict(ow.pop("optimizer"))
        pw = dict(ow.pop("paramwise_cfg", None) or {})
        if ow:
            raise RecipeError(f"{key}.{sorted(ow)[0]}", "not imported")
        return key, opt, pw, notes
    if "optimizer" in cfg:
        opt = dict(cfg["optimizer"])
        return "optimizer", opt, dict(opt.pop("paramwise_cfg", None) or cfg.get("paramwise_cfg") or {}), notes
    raise RecipeError("optim_wrapper", "the config has neither optim_wrapper nor optimizer")


def _optimizer(key: str, opt: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = str(opt.pop("type", ""))
    if kind not in _FAMILIES:
        raise RecipeError(f"{key}.optimizer.type", f"{kind!r}: lrspec imports the torch.optim classes "
                          f"{', '.join(_FAMILIES)}")
    family = _FAMILIES[kind]
    for k in ("foreach", "fused", "capturable", "differentiable", "maximize"):
        if opt.pop(k, None) and k == "maximize":
            raise RecipeError(f"{key}.optimizer.maximize", "lrspec minimizes")
    lr = float(opt.pop("lr", FAMILY_DEFAULTS[family]["lr"]))
    wd = opt.pop("weight_decay", None)
    if "betas" in opt:
        opt["betas"] = tuple(opt["betas"])
    node = optimizer_node(family, lr, FAMILY_DEFAULTS[family]["weight_decay"] if wd is None else float(wd),
                          f"{key}.optimizer", **opt)
    return family, {"node": node, "base_wd": None if wd is None else float(wd)}


def _custom(key: str, name: str, spec: Any, base_wd: float | None) -> tuple[float, float]:
    if not isinstance(spec, Mapping):
        raise RecipeError(f"{key}.custom_keys.{name}", "must be a dict with lr_mult / decay_mult")
    extra = set(spec) - {"lr_mult", "decay_mult"}
    if extra:
        raise RecipeError(f"{key}.custom_keys.{name}.{sorted(extra)[0]}", "not imported (lrspec imports lr_mult and "
                          "decay_mult)")
    if "decay_mult" in spec and base_wd is None:
        raise RecipeError(f"{key}.custom_keys.{name}.decay_mult", "needs optimizer.weight_decay (mmengine: base_wd "
                          "should not be None)")
    return float(spec.get("lr_mult", 1.0)), float(spec.get("decay_mult", 1.0))


def _dwconv(p: ParamView, by_name: Mapping[str, ParamView]) -> bool:
    """mmengine's is_dwconv: the owner is a Conv2d with in_channels == groups (weight shape[1] == 1)."""
    if not p.is_a("Conv2d"):
        return False
    prefix = p.name.rpartition(".")[0]
    weight = by_name.get(f"{prefix}.weight" if prefix else "weight")
    return weight is not None and weight.shape is not None and len(weight.shape) == 4 and weight.shape[1] == 1


def import_mmengine(cfg: Mapping[str, Any], model: Any, *, iters_per_epoch: int | None = None) -> Imported:
    """The spec that gives every parameter of ``model`` what mmengine's
    DefaultOptimWrapperConstructor and ``param_scheduler`` give it for the config ``cfg`` (a
    mapping, as ``mmengine.Config`` holds it); ``iters_per_epoch``: optimizer updates per epoch
    (needed by epoch-based schedulers)."""
    if not isinstance(cfg, Mapping):
        raise RecipeError("", f"an mmengine config must be a mapping, got {type(cfg).__name__}")
    key, opt, pw, notes = _wrapper(cfg)
    _, info = _optimizer(key, opt)
    node, base_wd = info["node"], info["base_wd"]
    base_lr, wd0 = node["lr"], node["weight_decay"]
    pkey = f"{key}.paramwise_cfg"
    unknown = set(pw) - set(_PARAMWISE)
    if unknown:
        raise RecipeError(f"{pkey}.{sorted(unknown)[0]}", "not imported (dcn_offset_lr_mult needs mmcv's DCN modules)")
    if base_wd is None:
        for k in ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult"):
            if k in pw:
                raise RecipeError(f"{pkey}.{k}", "needs optimizer.weight_decay (mmengine: base_wd should not be None)")
    params = model_params(model)
    by_name = {p.name: p for p in params}
    custom = dict(pw.get("custom_keys") or {})
    ordered = sorted(sorted(custom), key=len, reverse=True)  # mmengine's precedence: first match wins
    mults = {k: _custom(pkey, k, custom[k], base_wd) for k in ordered}
    bias_lr = pw.get("bias_lr_mult")
    wd_rules = {k: pw.get(k) for k in ("norm_decay_mult", "bias_decay_mult", "dwconv_decay_mult", "flat_decay_mult")}
    if base_wd is None:
        wd_rules = dict.fromkeys(wd_rules)
    if bias_lr is not None or wd_rules["norm_decay_mult"] is not None or wd_rules["dwconv_decay_mult"] is not None:
        needs_modules(params, pkey)
    if wd_rules["flat_decay_mult"] is not None or wd_rules["dwconv_decay_mult"] is not None:
        needs_shapes(params, pkey)
    expected, frozen = Expected(), []
    lr_mults: set[float] = {1.0}
    for p in params:
        if not p.trainable:
            continue
        full = p.name if "." in p.name else f".{p.name}"
        hit = next((k for k in ordered if k in full), None)
        lr, wd = base_lr, wd0
        is_norm = p.is_a(*NORM_CLASSES)
        if hit is not None:
            lm, dm = mults[hit]
            lr = base_lr * lm
            wd = base_wd * dm if base_wd is not None else wd0
        else:
            if p.leaf == "bias" and not is_norm and bias_lr is not None:
                lr = base_lr * float(bias_lr)
            if is_norm and wd_rules["norm_decay_mult"] is not None:
                wd = wd0 * float(wd_rules["norm_decay_mult"])
            elif p.leaf == "bias" and wd_rules["bias_decay_mult"] is not None:
                wd = wd0 * float(wd_rules["bias_decay_mult"])
            elif wd_rules["dwconv_decay_mult"] is not None and _dwconv(p, by_name):
                wd = wd0 * float(wd_rules["dwconv_decay_mult"])
            elif p.ndim == 1 and wd_rules["flat_decay_mult"] is not None:
                wd = wd0 * float(wd_rules["flat_decay_mult"])
        if lr == 0.0:
            frozen.append(p.name)
            continue
        expected.lr[p.name], expected.weight_decay[p.name] = lr, wd
        lr_mults.add(lr / base_lr)
    scheds = cfg.get("param_scheduler")
    per_group = has_absolute_floor(scheds, iters_per_epoch) and len(lr_mults) > 1

    if per_group and 0.0 in {m[0] for m in mults.values()}:
        zero = next(k for k in ordered if mults[k][0] == 0.0)
        raise RecipeError(f"{pkey}.custom_keys.{zero}.lr_mult", "cannot import exactly: 0 with an absolute eta_min "
                          "(mmengine raises this group's lr towards eta_min, so it trains; lrspec's lr_mult is > 0)")

    def schedule(mult: float) -> dict[str, Any]:
        return build_schedule(scheds, iters_per_epoch, base_lr * mult)

    sources: dict[str, str] = {"optimizer": f"{key}.optimizer"}
    data: dict[str, Any] = {"version": 1, "optimizer": node, "schedule": schedule(1.0)}
    sources["schedule"] = "param_scheduler"
    groups: list[dict[str, Any]] = []

    def add(name: str, source: str, group: dict[str, Any]) -> None:
        if per_group and "lr_mult" in group:
            group["schedule"] = schedule(group["lr_mult"])
        groups.append({"name": name, **group, "optional": True})
        sources[name] = source

    if bias_lr is not None:
        add("bias_lr_mult", f"{pkey}.bias_lr_mult (name == 'bias', not in norm layers)",
            {"params": _BIAS, "lr_mult": float(bias_lr)})
        add("norm_bias_lr", f"{pkey}.bias_lr_mult does not apply to norm layers",
            {"params": _BIAS, "modules": [f"class:{c}" for c in NORM_CLASSES], "lr_mult": 1.0})
    if wd_rules["flat_decay_mult"] is not None:
        add("flat_decay_mult", f"{pkey}.flat_decay_mult (1-D parameters)",
            {"params": ["*"], "ndim": 1, "decay_mult": float(wd_rules["flat_decay_mult"])})
    if wd_rules["dwconv_decay_mult"] is not None:
        names = [p.name for p in params if _dwconv(p, by_name)]
        if names:
            add("dwconv_decay_mult", f"{pkey}.dwconv_decay_mult (Conv2d with in_channels == groups)",
                {"params": [name_pattern(n) for n in names], "decay_mult": float(wd_rules["dwconv_decay_mult"])})
    if wd_rules["bias_decay_mult"] is not None:
        add("bias_decay_mult", f"{pkey}.bias_decay_mult (name == 'bias')",
            {"params": _BIAS, "decay_mult": float(wd_rules["bias_decay_mult"])})
    if wd_rules["norm_decay_mult"] is not None:
        add("norm_decay_mult", f"{pkey}.norm_decay_mult ({', '.join(NORM_CLASSES)} modules)",
            {"params": ["*"], "modules": [f"class:{c}" for c in NORM_CLASSES],
             "decay_mult": float(wd_rules["norm_decay_mult"])})
    for rank, ck in enumerate(reversed(ordered)):  # lowest precedence first: later groups win
        lm, dm = mults[ck]
        gname = f"custom_{len(ordered) - 1 - rank}"
        group: dict[str, Any] = {"params": [name_pattern(ck, contains=True)]}
        if lm == 0.0:
            group["freeze"] = True
        else:
            group["lr_mult"] = lm
            if any(m[0] == 0.0 for m in mults.values()):
                group["freeze"] = False
        if base_wd is not None:
            group["decay_mult"] = dm
        add(gname, f"{pkey}.custom_keys[{ck!r}] (substring; disables the built-in rules)", group)
    data["groups"] = groups
    warnings: list[str] = []
    fix_schedule = schedule if per_group else None
    data = check_exact(data, params, expected, sources, warnings, schedule_for=fix_schedule)
    if frozen:
        notes.append(f"{len(frozen)} parameter(s) with lr_mult 0 are frozen (the same updates: none)")
    return Imported(Spec.model_validate(data), "mmengine", sources, tuple(warnings), tuple(notes))


def from_mmengine(cfg: Mapping[str, Any], model: Any, *, iters_per_epoch: int | None = None) -> Spec:
    """The spec of :func:`import_mmengine` (its warnings are issued as :class:`UserWarning`)."""
    imported = import_mmengine(cfg, model, iters_per_epoch=iters_per_epoch)
    warn_all(imported)
    return imported.spec
