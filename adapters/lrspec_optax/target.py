"""The ``optax`` target (registered as ``lrspec_optax.target:TARGET``).

Usage::

    compiled = lrspec.compile("finetune.yaml", params, target="optax")
    tx = compiled.optimizer                      # an optax.GradientTransformation
    state = tx.init(params)

    @jax.jit
    def train_step(params, state, batch):
        grads = jax.grad(loss_fn)(params, batch)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

``params`` is any pytree of arrays (nested dicts, flax ``FrozenDict``, ``flax.nnx.State``,
lists/tuples, registered pytrees); leaf names are key paths joined by ``.``
(:mod:`lrspec_optax._names`). Updates follow torch's rules (:mod:`lrspec.reference`): optax's
own transforms where they are exact for the plan, lrspec's own elementwise rule otherwise
(option ``mode``; docs/optax.md lists which is which). Per-group lrs are closed-form scalars of
the traced step count: one fused rule over the tree, no ``optax.partition`` per group.
Importing this module does not import jax; each method imports what it needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from lrspec.plan import Plan
from lrspec.targets import Array, ParamShapes, Target, VerifyDriver

__all__ = ["TARGET", "OptaxTarget"]


class OptaxTarget(Target):
    """Target ``optax`` (see the module docstring)."""

    name = "optax"
    extra = "lrspec[jax]"
    requires = ("jax", "optax")
    model_description = "a pytree of jax arrays (dicts, FrozenDict, nnx.State, lists, ...)"
    model_suffixes = (".npz", ".msgpack")

    def canonical_name(self, native_name: str) -> str:
        """A ``/``-separated path (``params/Dense_0/kernel``, as in flattened checkpoints) or a
        dotted name -> the dotted canonical name."""
        return native_name.replace("/", ".")

    def parameters(self, model: Any) -> ParamShapes:
        """Canonical name -> shape of every leaf (:func:`lrspec_optax.builder.param_shapes`)."""
        from lrspec_optax.builder import param_shapes

        return param_shapes(model)

    def accepts(self, model: Any) -> bool:
        """True for a jax array or a non-empty pytree (dict, list, tuple, flax containers)
        whose leaves are all jax arrays. Never imports jax."""
        jax = sys.modules.get("jax")
        if jax is None:
            return False
        try:
            leaves = jax.tree_util.tree_leaves(model)
        except Exception:
            return False
        return bool(leaves) and all(isinstance(leaf, jax.Array) for leaf in leaves)

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        """Build the transformation of ``plan`` for ``model`` (:func:`lrspec_optax.builder.compile_plan`)."""
        from lrspec_optax.builder import compile_plan

        return compile_plan(plan, model, **options)

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        from lrspec_optax.verify_driver import OptaxDriver

        return OptaxDriver(self, plan, init, options)

    def emit_python(self, plan: Plan, header: str) -> str:
        from lrspec_optax.emit import emit_module

        return emit_module(plan, header)

    def read_model_file(self, path: str) -> ParamShapes:
        from lrspec_optax.model_files import read_model_file

        return read_model_file(path)

    def example_models(self) -> Mapping[str, Callable[..., Any]]:
        from lrspec_optax.examples import EXAMPLES

        return EXAMPLES


TARGET = OptaxTarget()
