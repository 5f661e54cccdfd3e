"""``freeze_statistics: true``: keep the normalization modules of frozen parameters in eval mode.

A plan group with ``freeze_statistics`` (always permanently frozen, see :class:`lrspec.plan.PlanGroup`)
asks for what Keras's ``trainable = False`` does: the normalization layers owning those
parameters run in inference mode, so their running statistics are not updated. In torch that is
a module with running statistics (``BatchNorm*``, ``SyncBatchNorm``, ``InstanceNorm*`` with
``track_running_stats``) in eval mode. :func:`freeze_statistics` puts every such module whose
parameters are all in freeze_statistics groups in eval mode and registers a forward pre-hook
that puts it back in eval mode before each forward, so ``model.train()`` (which every training
loop calls) does not undo it. Like the hand-written ``bn.eval()`` + ``requires_grad_(False)``.
A module with some parameters in such a group and others trained is a :class:`TargetError`.
Without the key nothing changes: a freeze stops updates only, as in every framework.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lrspec.errors import TargetError
from lrspec.plan import Plan
from lrspec_torch.names import canonical_name, unwrap

__all__ = ["freeze_statistics"]

_MARK = "_lrspec_statistics_frozen"


def _has_running_stats(module: nn.Module) -> bool:
    return bool(getattr(module, "track_running_stats", False)) and getattr(module, "running_mean", None) is not None


def _keep_eval(module: nn.Module, args: Any) -> None:
    """Forward pre-hook: eval mode, whatever ``model.train()`` set."""
    if module.training:
        module.train(False)


def freeze_statistics(plan: Plan, model: Any) -> list[str]:
    """Keep the running-statistics modules of ``plan``'s freeze_statistics groups in eval mode
    (see the module docstring); returns their canonical module names. A model given as names ->
    tensors has no modules: nothing to do."""
    frozen = {n for g in plan.groups if g.freeze_statistics for n in g.params}
    if not frozen or not isinstance(model, nn.Module):
        return []
    done: list[str] = []
    for mname, module in unwrap(model).named_modules():
        if not _has_running_stats(module):
            continue
        prefix = canonical_name(mname + ".") if mname else ""
        own = [prefix + pname for pname, _ in module.named_parameters(recurse=False)]
        hit = [n for n in own if n in frozen]
        if not hit:
            continue
        if len(hit) != len(own):
            raise TargetError(
                f"freeze_statistics: module {mname!r} keeps running statistics, but only {', '.join(hit)} of its "
                f"parameters are in a freeze_statistics group ({', '.join(n for n in own if n not in frozen)} "
                "train); freeze all of its parameters, or none"
            )
        module.eval()
        if not getattr(module, _MARK, False):
            module.register_forward_pre_hook(_keep_eval)
            setattr(module, _MARK, True)
        done.append(mname)
    return done
