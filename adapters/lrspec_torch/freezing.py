"""Gradient gates: a frozen parameter behaves as if it had no gradient.

A :class:`GradGate` watches some parameters that keep ``requires_grad=True`` although they
must not train now (frozen until update ``N``, or frozen for good in a model that was already
DistributedDataParallel-wrapped when compiled). While its predicate says "frozen", every
gradient backward accumulates into them is discarded (``.grad = None``):

* at once, by a ``register_post_accumulate_grad_hook`` on each tensor, so whatever runs during
  or after backward (gradient clipping, ``clip_grad_norm_``, HF Trainer's ``max_grad_norm``,
  accelerate's ``clip_grad_norm_``, gradient-norm logging) never sees them;
* again at the end of backward (an autograd-engine final callback queued from a final callback,
  so it runs after DDP's reducer, which writes the all-reduced bucket back into ``.grad`` when
  it finalizes; all ranks discard alike, so the bucket holds zeros and the ranks stay equal);
* by :meth:`GradGate.discard`, which the scheduler calls before every optimizer update and after
  the closure of ``optimizer.step(closure)`` (gradients set by hand, or by anything else).

``requires_grad`` is never flipped (DDP's reducer is built once, at wrap time: SEMANTICS.md
§11). One tensor has at most one lrspec gate: a later compile for the same tensors replaces the
earlier gate's hooks. The hooks hold the gate weakly, so a discarded compiled object stops
acting.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.utils.weak import WeakIdKeyDictionary

__all__ = ["GradGate"]

#: tensor -> the hook handle of the gate that owns it (the most recent compile)
_OWNER: Any = WeakIdKeyDictionary()


def _queue_callback(callback: Callable[[], None]) -> None:
    torch.autograd.Variable._execution_engine.queue_callback(callback)  # type: ignore[attr-defined]


class GradGate:
    """Discards the gradients of ``tensors`` while ``frozen()`` is true (see the module docstring)."""

    def __init__(self, tensors: Iterable[torch.Tensor], frozen: Callable[[], bool]) -> None:
        self.tensors: list[torch.Tensor] = [p for p in tensors if p.requires_grad]
        self._frozen = frozen
        self._queued = False
        self._handles: dict[int, Any] = {}
        ref = weakref.ref(self)

        def hook(p: torch.Tensor) -> None:
            gate = ref()
            if gate is not None:
                gate._on_accumulated(p)

        for p in self.tensors:
            old = _OWNER.pop(p, None)
            if old is not None:
                old.remove()
            handle = p.register_post_accumulate_grad_hook(hook)  # type: ignore[no-untyped-call]
            _OWNER[p] = self._handles[id(p)] = handle

    def frozen(self) -> bool:
        """Whether the gated tensors are frozen now."""
        return bool(self._frozen())

    def discard(self) -> None:
        """Set the gated tensors' ``.grad`` to None if they are frozen now."""
        self._queued = False
        if self.tensors and self.frozen():
            for p in self.tensors:
                p.grad = None

    def _on_accumulated(self, p: torch.Tensor) -> None:
        if not self.frozen():
            return
        p.grad = None
        if not self._queued:
            self._queued = True
            ref = weakref.ref(self)

            def last() -> None:
                gate = ref()
                if gate is not None:
                    gate._queued = False
                    gate.discard()

            # queued from a final callback, so it runs after the callbacks queued during
            # backward (DDP's reducer finalizes in one of those)
            _queue_callback(lambda: _queue_callback(last))

    def remove(self) -> None:
        """Remove this gate's hooks (the tensors' gradients are left alone from now on)."""
        for p in self.tensors:
            handle = self._handles.pop(id(p), None)
            if handle is not None:
                handle.remove()
                if _OWNER.get(p) is handle:
                    del _OWNER[p]
        self.tensors = []
