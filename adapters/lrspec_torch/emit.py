"""``--emit python --target torch``: a self-contained PyTorch module for one plan.

The generated module imports only ``torch`` (plus ``math``/``bisect``) and defines
``build(model) -> (optimizer, scheduler)``:

* the optimizer is the stock ``torch.optim`` class of the plan's family with one param group
  per plan group that is not frozen for good (keys: ``params``, ``lr``, ``weight_decay``, the
  family's hyperparameters with torch's names, and ``name``);
* the scheduler is a ``torch.optim.lr_scheduler.LambdaLR`` whose per-group lambdas are the
  schedules, evaluated by an inlined copy of the definition (:func:`lrspec.schedules.from_dict`
  and its factories, fed each group's schedule in its JSON form), so group lr at update t =
  plan lr * m(t), bit for bit;
* Adagrad's accumulators start at each group's ``initial_accumulator_value`` (torch's
  constructor would use its own argument for every group; the module fills them itself, as
  :func:`lrspec_torch.optimizer.build_optimizer` does);
* permanently frozen parameters get ``requires_grad_(False)`` and are left out; parameters
  frozen until step N keep ``requires_grad`` and an optimizer step pre-hook sets their
  ``.grad`` to None while ``scheduler.last_epoch < N`` (no update, no state, no weight decay,
  and fresh state at N, like the plan says).

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
from lrspec_torch import names

__all__ = ["TORCH_CLASSES", "emit_module", "naming_source"]

TORCH_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}

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
    param_groups, lambdas, until = [], [], []
    for g, params in zip(GROUPS, members):
        if g["frozen"]:
            for p in params:
                p.requires_grad_(False)
            continue
        param_groups.append(
            {"params": params, "lr": g["lr"], "weight_decay": g["weight_decay"], **g["options"], "name": g["name"]}
        )
        lambdas.append(from_dict(g["schedule"]))
        until.append(g["frozen_until"])
    if not param_groups:
        raise ValueError("every parameter is frozen for good: there is nothing to optimize")
    optimizer = OPTIMIZER(param_groups)
    if FAMILY == "adagrad":
        # torch.optim.Adagrad fills every accumulator with the *constructor's*
        # initial_accumulator_value (0 here); apply each group's own value, as lrspec does.
        for group in optimizer.param_groups:
            init = float(group["initial_accumulator_value"])
            for p in group["params"]:
                optimizer.state[p]["sum"].fill_(complex(init, init) if p.is_complex() else init)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)

    if any(n is not None for n in until):
        def _discard_frozen_grads(opt, args, kwargs):
            t = scheduler.last_epoch
            for group, n in zip(opt.param_groups, until):
                if n is not None and t < n:
                    for p in group["params"]:
                        p.grad = None

        optimizer.register_step_pre_hook(_discard_frozen_grads)
    return optimizer, scheduler
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


def emit_module(plan: Plan, header: str) -> str:
    """Source of the generated module; ``header`` is its docstring's first paragraph (already
    escaped for a triple-quoted string)."""
    lines = [
        *docstring_lines(
            header, "Self-contained: needs only torch. Entry point: build(model) -> (optimizer, scheduler)."
        ),
        "from __future__ import annotations",
        "",
        "import bisect",
        "import math",
        "",
        "import torch",
        "from torch import nn",
        "",
        f"FAMILY = {literal(plan.family)}",
        f"OPTIMIZER = torch.optim.{TORCH_CLASSES[plan.family]}",
        f"PLAN_FINGERPRINT = {literal(plan.fingerprint)}",
        "",
        "",
        schedule_interpreter_source(),
        naming_source(),
        "",
        "# ---- the plan ----",
        "",
        "GROUPS = [",
    ]
    for g in plan.groups:
        options = ", ".join(f"{literal(k)}: {literal(v)}" for k, v in g.hyperparameters.items())
        lines += [
            "    {",
            f'        "name": {literal(g.name)},',
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
