"""``--emit python --target torch``: a self-contained PyTorch module for one plan.

The generated module imports only ``torch`` (plus the standard library) and defines
``build(model) -> (optimizer, scheduler)``, which builds what :func:`lrspec.compile` builds:

* one param group per plan group that is not frozen for good (keys: ``params``, ``lr``,
  ``weight_decay``, the family's hyperparameters with torch's names, and ``name``; ``family``
  too in a plan with several families), ordered by the update at which the group starts
  training (ties in plan order), as the torch target orders them;
* the optimizer: the stock ``torch.optim`` class of the plan's family; for a plan whose groups
  use several families, one stock optimizer per family inside ONE ``HybridOptimizer`` (an inlined
  copy of :class:`lrspec_torch.hybrid.HybridOptimizer`: a ``torch.optim.Optimizer`` whose
  ``param_groups`` are the inner optimizers' own dicts), exactly as the torch target does;
* the scheduler is a ``torch.optim.lr_scheduler.LambdaLR`` whose per-group lambdas are the
  schedules, evaluated by an inlined copy of the definition (:func:`lrspec.schedules.from_dict`
  and its factories, fed each group's schedule in its JSON form), so group lr at update t =
  plan lr * m(t), bit for bit;
* Adagrad's accumulators start at each group's ``initial_accumulator_value`` (torch's
  constructor would use its own argument for every group; the module fills them itself, as
  :func:`lrspec_torch.optimizer.build_optimizer` does);
* permanently frozen parameters get ``requires_grad_(False)`` and are left out; parameters
  frozen until update N keep ``requires_grad`` and behave as if they had no gradient while
  ``scheduler.last_epoch < N``, with the torch target's design (an inlined copy of
  :class:`lrspec_torch.freezing.GradGate`): their ``.grad`` is set to None as soon as backward
  accumulates it (so ``clip_grad_norm_`` between backward and step never sees it), again at the
  end of backward (after DDP's reducer), before every ``optimizer.step()`` and after the closure
  of ``optimizer.step(closure)`` (a step pre-hook wraps the closure: torch runs pre-hooks before
  the step calls it). No update, no state, no weight decay, and fresh state at N.

Parameters are matched by the torch target's canonical names: the model is unwrapped by type
(DistributedDataParallel / DataParallel / ``torch.compile``, as :func:`lrspec_torch.names.unwrap`)
and each ``named_parameters(remove_duplicate=False)`` name goes through
:func:`lrspec_torch.names.canonical_name`, both inlined; a model whose names differ from the
plan's is an error.
"""

from __future__ import annotations

import inspect

from lrspec.plan import Plan
from lrspec.tools.emit._common import docstring_lines, literal, schedule_interpreter_source
from lrspec_torch import freezing, hybrid, names
from lrspec_torch.classes import FAMILY_CLASSES

__all__ = ["TORCH_CLASSES", "emit_module", "freezing_source", "hybrid_source", "naming_source"]

TORCH_CLASSES = {family: cls.__name__ for family, cls in FAMILY_CLASSES.items()}
"""Family -> the ``torch.optim`` class name the generated module uses."""

_UNWRAP = '''
def _unwrap(model):
    """The module inside DDP / DataParallel / torch.compile wrappers (any nesting), by type."""
    compiled = _compiled_type()
    inner = model
    while True:
        if isinstance(inner, _ddp_types()):
            inner = inner.module
        elif compiled is not None and isinstance(inner, compiled):
            inner = inner._orig_mod
        else:
            return inner


def _named_parameters(model):
    """(canonical name, parameter) for every name of every parameter, as the torch target names them."""
    return [(canonical_name(n), p) for n, p in _unwrap(model).named_parameters(remove_duplicate=False)]
'''

_RUNTIME = '''
def _gate_step(optimizer, gates):
    """Discard frozen gradients before every step and after the closure of step(closure)."""

    def discard_all():
        for gate in gates:
            gate.discard()

    def pre_hook(opt, args, kwargs):
        discard_all()
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if closure is None:
            return None

        def gated_closure():
            loss = closure()
            discard_all()
            return loss

        if "closure" in kwargs:
            return tuple(args), {**kwargs, "closure": gated_closure}
        return (args[0], gated_closure, *args[2:]), dict(kwargs)

    optimizer.register_step_pre_hook(pre_hook)


def build(model):
    """Build ``(optimizer, scheduler)`` for ``model`` (a torch.nn.Module whose parameter names
    are the plan's). Train with: loss.backward(); optimizer.step(); scheduler.step();
    optimizer.zero_grad(). Update t (0-based) uses lr = group lr * m(t)."""
    index = {name: gi for gi, g in enumerate(GROUPS) for name in g["params"]}
    named = _named_parameters(model)
    model_names = [n for n, _ in named]
    missing = [n for n in index if n not in set(model_names)]
    extra = [n for n in model_names if n not in index]
    if missing or extra:
        raise ValueError(
            "the model's parameters are not the plan's: "
            + (f"missing from the model: {', '.join(missing[:10])}; " if missing else "")
            + (f"not in the plan: {', '.join(extra[:10])}; " if extra else "")
            + "regenerate this file for this model"
        )
    members = [[] for _ in GROUPS]
    seen = {}
    for name, p in named:
        gi = index[name]
        if id(p) in seen:
            if seen[id(p)] != gi:
                raise ValueError(f"parameter {name!r} is tied to a parameter of another group")
            continue
        seen[id(p)] = gi
        members[gi].append(p)
    trained = []
    for g, params in zip(GROUPS, members):
        if g["frozen"]:
            for p in params:
                p.requires_grad_(False)
        else:
            trained.append((g, params))
    if not trained:
        raise ValueError("every parameter is frozen for good: there is nothing to optimize")
    # groups in the order they start training (ties in plan order), as the torch target orders them
    trained.sort(key=lambda item: item[0]["frozen_until"] or 0)
    families = list(dict.fromkeys(g["family"] for g, _ in trained))
    mixed = len(families) > 1
    optimizers = []
    for family in families:
        groups = [
            {"params": params, "lr": g["lr"], "weight_decay": g["weight_decay"], **g["options"], "name": g["name"]}
            for g, params in trained
            if g["family"] == family
        ]
        if mixed:
            for group in groups:
                group["family"] = family
        optimizer = OPTIMIZERS[family](groups)
        if family == "adagrad":
            # torch.optim.Adagrad fills every accumulator with the *constructor's*
            # initial_accumulator_value (0 here); apply each group's own value, as lrspec does.
            for group in optimizer.param_groups:
                init = float(group["initial_accumulator_value"])
                for p in group["params"]:
                    optimizer.state[p]["sum"].fill_(complex(init, init) if p.is_complex() else init)
        optimizers.append(optimizer)
    if mixed:
        optimizer = HybridOptimizer(optimizers, families, _in_trained_order(trained, families))
    else:
        optimizer = optimizers[0]
    ordered = [g for g, _ in trained]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [from_dict(g["schedule"]) for g in ordered])

    gates = []
    for g, group in zip(ordered, optimizer.param_groups):
        if g["frozen_until"] is not None:
            gates.append(GradGate(group["params"], lambda n=g["frozen_until"]: scheduler.last_epoch < n))
    if gates:
        _gate_step(optimizer, gates)
        optimizer._lrspec_gates = gates  # the gates' hooks hold them weakly: keep them alive
    return optimizer, scheduler


def _in_trained_order(trained, families):
    """(optimizer index, group index) of each trained group, in the order of ``trained``."""
    counters = [0] * len(families)
    out = []
    for g, _ in trained:
        k = families.index(g["family"])
        out.append((k, counters[k]))
        counters[k] += 1
    return out
'''


def naming_source() -> str:
    """Source of the torch target's naming for a generated module (which has ``from torch
    import nn``): :func:`lrspec_torch.names.canonical_name` and the wrapper-type helpers,
    inlined, plus ``_unwrap`` (:func:`lrspec_torch.names.unwrap` without its typing casts) and
    ``_named_parameters(model)``."""
    parts = [f"# ---- inlined from {names.__name__} (the torch target's parameter names) ----", "", ""]
    parts += [f"_WRAPPER_SEGMENTS = {literal(names._WRAPPER_SEGMENTS)}", "", ""]
    for fn in (names._ddp_types, names._compiled_type, names.canonical_name):
        parts += [inspect.getsource(fn).rstrip(), "", ""]
    return "\n".join(parts) + _UNWRAP.strip("\n") + "\n"


def freezing_source() -> str:
    """Source of :class:`lrspec_torch.freezing.GradGate` for a generated module (which imports
    ``torch``, ``weakref`` and ``WeakIdKeyDictionary``)."""
    parts = [f"# ---- inlined from {freezing.__name__} (frozen gradients are discarded) ----", "", ""]
    parts += ["_OWNER = WeakIdKeyDictionary()", "", ""]
    for obj in (freezing._queue_callback, freezing.GradGate):
        parts += [inspect.getsource(obj).rstrip(), "", ""]
    return "\n".join(parts)


def hybrid_source() -> str:
    """Source of :class:`lrspec_torch.hybrid.HybridOptimizer` for a generated module (which
    imports ``torch``, ``MutableMapping`` and ``Any``; ``TargetError`` is ValueError there)."""
    parts = [f"# ---- inlined from {hybrid.__name__} (one optimizer, one stock optimizer per family) ----", "", ""]
    parts += ["TargetError = ValueError", "", ""]
    for obj in (hybrid._StateView, hybrid.HybridOptimizer):
        parts += [inspect.getsource(obj).rstrip(), "", ""]
    return "\n".join(parts)


def emit_module(plan: Plan, header: str) -> str:
    """Source of the generated module; ``header`` is its docstring's first paragraph (already
    escaped for a triple-quoted string)."""
    trained = [g for g in plan.groups if not g.frozen]
    families = list(dict.fromkeys((g.family or plan.family) for g in trained)) or [plan.family]
    mixed = len(families) > 1
    lines = [
        *docstring_lines(
            header, "Self-contained: needs only torch. Entry point: build(model) -> (optimizer, scheduler)."
        ),
        "from __future__ import annotations",
        "",
        "import bisect",
        "import math",
        "import weakref",
        *(["from collections.abc import MutableMapping", "from typing import Any"] if mixed else []),
        "",
        "import torch",
        "from torch import nn",
        "from torch.utils.weak import WeakIdKeyDictionary",
        "",
        f"FAMILY = {literal(plan.family)}",
        "OPTIMIZERS = {" + ", ".join(f"{literal(f)}: torch.optim.{TORCH_CLASSES[f]}" for f in families) + "}",
        f"OPTIMIZER = torch.optim.{TORCH_CLASSES[plan.family]}",
        f"PLAN_FINGERPRINT = {literal(plan.fingerprint)}",
        "",
        "",
        schedule_interpreter_source(),
        naming_source(),
        "",
        freezing_source(),
        *([hybrid_source()] if mixed else []),
        "# ---- the plan ----",
        "",
        "GROUPS = [",
    ]
    for g in plan.groups:
        options = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in g.hyperparameters.items())
        lines += [
            "    {",
            f'        "name": {literal(g.name)},',
            f'        "family": {literal(g.family or plan.family)},',
            f'        "params": {literal(list(g.params))},',
            f'        "lr": {literal(g.lr)},',
            f'        "weight_decay": {literal(g.weight_decay)},',
            f'        "options": {{{options}}},',
            f'        "schedule": {literal(g.schedule.model_dump(mode="json"))},',
            f'        "frozen": {literal(g.frozen)},',
            f'        "frozen_until": {literal(g.frozen_until)},',
            "    },",
        ]
    lines += ["]", "", "", ""]
    return "\n".join(lines) + _RUNTIME.lstrip("\n")
