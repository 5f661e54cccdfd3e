"""``--emit python --target torch``: a self-contained PyTorch module for one plan.

The generated module imports only ``torch`` (plus ``math``/``bisect``) and defines
``build(model) -> (optimizer, scheduler)``:

* the optimizer is the stock ``torch.optim`` class of the plan's family with one param group
  per plan group that is not frozen for good (keys: ``params``, ``lr``, ``weight_decay``, the
  family's hyperparameters with torch's names, and ``name``);
* the scheduler is a ``torch.optim.lr_scheduler.LambdaLR`` whose per-group lambdas are the
  schedules in closed form, so group lr at update t = plan lr * m(t);
* permanently frozen parameters get ``requires_grad_(False)`` and are left out; parameters
  frozen until step N keep ``requires_grad`` and an optimizer step pre-hook sets their
  ``.grad`` to None while ``scheduler.last_epoch < N`` (no update, no state, no weight decay,
  and fresh state at N, like the plan says).

Parameters are matched by name (``named_parameters(remove_duplicate=False)``, a shared
``module.`` prefix stripped); a model whose names differ from the plan's is an error.
"""

from __future__ import annotations

from lrspec.plan import Plan
from lrspec.tools.emit._common import docstring_lines, literal
from lrspec.tools.emit.schedule_code import python_schedule

__all__ = ["TORCH_CLASSES", "emit_torch"]

TORCH_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}

_RUNTIME = '''
def _pow(base, exponent):
    """base ** exponent, saturating to inf instead of raising OverflowError."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return math.inf


def _named_parameters(model):
    named = list(model.named_parameters(remove_duplicate=False))
    if named and all(n.startswith("module.") for n, _ in named):
        named = [(n[len("module."):], p) for n, p in named]
    return named


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
        lambdas.append(g["schedule"])
        until.append(g["frozen_until"])
    if not param_groups:
        raise ValueError("every parameter is frozen for good: there is nothing to optimize")
    optimizer = OPTIMIZER(param_groups)
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


def emit_torch(plan: Plan, header: str) -> str:
    """Source of the generated module; ``header`` is its docstring's first paragraph."""
    lines = [
        *docstring_lines(header, "Self-contained: needs only torch. Entry point: build(model) -> (optimizer, scheduler)."),
        "import bisect  # noqa: F401  (used by some schedules)",
        "import math",
        "",
        "import torch",
        "",
        f"FAMILY = {plan.family!r}",
        f"OPTIMIZER = torch.optim.{TORCH_CLASSES[plan.family]}",
        f"PLAN_FINGERPRINT = {plan.fingerprint!r}",
        "",
        "",
    ]
    schedule_names = []
    for k, g in enumerate(plan.groups):
        if g.frozen:
            schedule_names.append("None")
            continue
        name = f"_schedule_{k}"
        lines += python_schedule(g.schedule, name)
        schedule_names.append(name)
    lines.append("GROUPS = [")
    for g, sched in zip(plan.groups, schedule_names):
        options = ", ".join(f"{k!r}: {literal(v)}" for k, v in g.hyperparameters.items())
        lines += [
            "    {",
            f"        \"name\": {g.name!r},",
            f"        \"params\": {list(g.params)!r},",
            f"        \"lr\": {g.lr!r},",
            f"        \"weight_decay\": {g.weight_decay!r},",
            f"        \"options\": {{{options}}},",
            f"        \"schedule\": {sched},",
            f"        \"frozen\": {g.frozen!r},",
            f"        \"frozen_until\": {g.frozen_until!r},",
            "    },",
        ]
    lines += ["]", "", "", ""]
    return "\n".join(lines) + _RUNTIME.lstrip("\n")
