"""One ``torch.optim.Optimizer`` that steps one stock optimizer per family (a plan with a family per group).

:class:`HybridOptimizer` holds ``optimizers`` (e.g. a ``torch.optim.Muon`` for the 2-D matrices
and a ``torch.optim.AdamW`` for the rest) and is itself a ``torch.optim.Optimizer`` instance, so
HF Trainer, Lightning, accelerate, ``torch.amp.GradScaler`` and every ``LRScheduler`` take it as
one optimizer:

* ``param_groups``: one list holding **the same dict objects** the inner optimizers hold, in the
  compiled order (not grouped by family), so a scheduler or a user setting
  ``param_groups[i]["lr"]`` reaches the inner optimizer that steps that group. Each dict has a
  ``"family"`` key;
* ``state``: one mapping parameter -> its state, a live view of the inner optimizers' states;
* ``step(closure=None)``: calls ``closure`` once (with grad enabled), then steps every inner
  optimizer once, in order; the step pre/post hooks registered on this object run once per step
  (around all inner steps). ``torch.amp.GradScaler`` unscales all groups through ``param_groups``
  and skips the whole step on inf/NaN (``_step_supports_amp_scaling`` is False: fused inner
  optimizers are stepped as plain ones, with unscaled gradients);
* ``zero_grad``: torch's, over every group;
* ``state_dict()``: torch's format over the one ``param_groups`` list (parameter indices in this
  order), so it reads like any optimizer's; ``load_state_dict`` runs this object's load hooks
  (lrspec's checks: all or nothing), splits the state per inner optimizer, loads each, and then
  refreshes ``param_groups`` with the inner optimizers' new group dicts (torch replaces them on
  load);
* ``add_param_group(group)``: needs ``group["family"]`` naming one of the inner optimizers' families;
  the group goes to that optimizer (its defaults fill missing keys) and to ``param_groups``;
* pickling / ``copy.deepcopy`` keep the inner optimizers and the shared dicts.

This module imports only torch and lrspec's error class (``--emit python`` inlines it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

import torch

from lrspec.errors import TargetError

__all__ = ["HybridOptimizer"]


class _StateView(MutableMapping[Any, Any]):
    """``HybridOptimizer.state``: parameter -> the state its inner optimizer keeps (live)."""

    def __init__(self, owner: HybridOptimizer) -> None:
        self._owner = owner
        self._extra: dict[Any, Any] = {}

    def _states(self) -> list[MutableMapping[Any, Any]]:
        return [o.state for o in self._owner.optimizers]

    def _state_of(self, key: Any) -> MutableMapping[Any, Any] | None:
        k = self._owner._index.get(id(key)) if isinstance(key, torch.Tensor) else None
        return None if k is None else self._owner.optimizers[k].state

    def __getitem__(self, key: Any) -> Any:
        state = self._state_of(key)
        if state is not None:
            return state[key]  # a defaultdict: an unseen parameter gets {} as in torch
        if key not in self._extra:
            self._extra[key] = {}
        return self._extra[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        state = self._state_of(key)
        if state is not None:
            state[key] = value
        else:
            self._extra[key] = value

    def __delitem__(self, key: Any) -> None:
        state = self._state_of(key)
        del (self._extra if state is None else state)[key]

    def __contains__(self, key: object) -> bool:
        state = self._state_of(key)
        return key in (self._extra if state is None else state)

    def __iter__(self) -> Iterator[Any]:
        for state in self._states():
            yield from state
        yield from self._extra

    def __len__(self) -> int:
        return sum(len(s) for s in self._states()) + len(self._extra)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class HybridOptimizer(torch.optim.Optimizer):
    """One optimizer over several stock ones, one per family (see the module docstring).

    ``optimizers[k]`` steps the groups of ``families[k]``; ``order`` lists ``(k, j)`` (inner
    optimizer, its group index) for each of this optimizer's param groups, in order (default:
    every inner optimizer's groups, one optimizer after the other); ``defaults`` is this
    optimizer's ``defaults`` dict (tools read ``optimizer.defaults["lr"]``).
    """

    _step_supports_amp_scaling = False

    def __init__(
        self,
        optimizers: Sequence[torch.optim.Optimizer],
        families: Sequence[str],
        order: Sequence[tuple[int, int]] | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        if len(optimizers) != len(families) or not optimizers:
            raise TargetError("HybridOptimizer needs one family name per inner optimizer, and at least one")
        self._ready = False
        self.optimizers: list[torch.optim.Optimizer] = list(optimizers)
        self.families: tuple[str, ...] = tuple(families)
        if order is None:
            order = [(k, j) for k, o in enumerate(self.optimizers) for j in range(len(o.param_groups))]
        listed = sorted(order)
        every = sorted((k, j) for k, o in enumerate(self.optimizers) for j in range(len(o.param_groups)))
        if listed != every:
            raise TargetError("HybridOptimizer: order must list every group of every inner optimizer exactly once")
        for k, o in enumerate(self.optimizers):
            for g in o.param_groups:
                g.setdefault("family", self.families[k])
        super().__init__([self.optimizers[k].param_groups[j] for k, j in order], dict(defaults or {}))
        self._index: dict[int, int] = {}
        self._reindex()
        self.state = _StateView(self)  # type: ignore[assignment]
        self._ready = True

    def _reindex(self) -> None:
        self._index = {id(p): k for k, o in enumerate(self.optimizers) for g in o.param_groups for p in g["params"]}

    def _layout(self) -> list[tuple[int, int]]:
        """``(inner optimizer, group index)`` of each of ``param_groups``, found by identity."""
        where = {id(g): (k, j) for k, o in enumerate(self.optimizers) for j, g in enumerate(o.param_groups)}
        out = []
        for i, g in enumerate(self.param_groups):
            if id(g) not in where:
                raise TargetError(
                    f"param group {i} of this HybridOptimizer ({g.get('name', 'no name')}) belongs to none of its "
                    "inner optimizers (was param_groups edited by hand? use add_param_group with a 'family' key)"
                )
            out.append(where[id(g)])
        if len(out) != len(where):
            raise TargetError("this HybridOptimizer's param_groups no longer list every inner optimizer's groups")
        return out

    # ------------------------------------------------------------------ stepping

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """``closure()`` once (grad enabled) if given, then one step of every inner optimizer."""
        if len(self.param_groups) != sum(len(o.param_groups) for o in self.optimizers):
            self._layout()  # raises, naming the problem
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for o in self.optimizers:
            o.step()
        return loss

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer of ``param_group["family"]`` and to ``param_groups``."""
        if not self._ready:
            super().add_param_group(param_group)
            return
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        family = param_group.get("family")
        if family not in self.families:
            raise TargetError(
                f"add_param_group on a HybridOptimizer needs a 'family' key naming the optimizer that steps the "
                f"group, one of {', '.join(map(repr, self.families))}; got {family!r}"
            )
        k = self.families.index(family)
        params = param_group["params"]
        tensors = [params] if isinstance(params, torch.Tensor) else list(params)
        taken = [p for p in tensors if isinstance(p, torch.Tensor) and id(p) in self._index]
        if taken:
            raise ValueError("some parameters appear in more than one parameter group")
        self.optimizers[k].add_param_group(param_group)
        self.param_groups.append(self.optimizers[k].param_groups[-1])
        self._reindex()

    # ------------------------------------------------------------------ state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load :meth:`state_dict` output (see the module docstring): this optimizer's load
        pre-hooks, then each inner optimizer's share, then the post-hooks."""
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        layout = self._layout()
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(layout):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(sg["params"]) != len(g["params"]) for sg, g in zip(saved_groups, self.param_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        saved_state = state_dict["state"]
        shares: list[dict[str, Any]] = []
        for k in range(len(self.optimizers)):
            mine = sorted((j, i) for i, (kk, j) in enumerate(layout) if kk == k)
            groups, state, start = [], {}, 0
            for _, i in mine:
                ids = saved_groups[i]["params"]
                new_ids = list(range(start, start + len(ids)))
                start += len(ids)
                for old, new in zip(ids, new_ids):
                    if old in saved_state:
                        state[new] = saved_state[old]
                groups.append({**saved_groups[i], "params": new_ids})
            shares.append({"state": state, "param_groups": groups})
        for o, share in zip(self.optimizers, shares):
            o.load_state_dict(share)
        self.param_groups[:] = [self.optimizers[k].param_groups[j] for k, j in layout]
        self._reindex()
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "defaults": self.defaults,
            "optimizers": self.optimizers,
            "families": self.families,
            "_order": self._layout(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        order = state.pop("_order")
        super().__setstate__(state)
        self.param_groups = [self.optimizers[k].param_groups[j] for k, j in order]
        self._reindex()
        self.state = _StateView(self)  # type: ignore[assignment]
        self._ready = True

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}: {type(o).__name__}" for f, o in zip(self.families, self.optimizers))
        body = super().__repr__()[len(type(self).__name__) :]
        return f"{type(self).__name__} [{inner}]{body}"
