"""A plan as one ``optax.GradientTransformation`` (the optax runtime's entry point).

:func:`build_transformation` takes a plan in plain data (see :func:`lrspec_optax.builder.plan_config`)
and returns ``tx`` with ``state = tx.init(params)`` and ``updates, state = tx.update(grads,
state, params)``. Leaves are matched to plan parameters by their canonical names
(:mod:`lrspec_optax._names`), at trace time.

Semantics (``t`` = ``state.count``, the updates already applied; the first uses t = 0):

* a leaf of group ``G`` gets ``lr = G.lr * m_G(t)``: one scalar per group computed in closed
  form from the traced count, then one elementwise rule over the tree (``jax.tree.map``), not
  one ``optax.partition`` branch per group;
* permanently frozen leaves get exactly zero updates and hold no state (``optax.EmptyState()``
  in lrspec's own rule, ``optax.MaskedNode()`` in the optax chain);
* a leaf frozen until ``N`` gets zero updates and keeps its fresh buffers while ``t < N``; from
  ``t = N`` it counts its own steps ``s = t + 1 - N`` (Adam's bias correction starts at 1 at N)
  while the schedule clock ``t`` runs on;
* each leaf runs its group's family (``group["family"]``, else the plan's): a plan with
  groups of different families (muon for matrices, adamw for the rest) is partitioned by
  family leaf by leaf, inside the same fused rule;
* ``mode="optax"`` chains optax's own transforms where they are exact for the plan (see
  :func:`native_eligible`), ``mode="lrspec"`` uses lrspec's rule (:mod:`lrspec_optax._rules`),
  ``mode="auto"`` the first when possible;
* the state is a :class:`PlanState` carrying the plan's fingerprint as static pytree aux data;
  ``tx.update`` refuses a state of another plan (eagerly and at trace time under ``jax.jit``).

Part of the optax runtime (imports only jax, optax and math; inlined by ``--emit python``).
"""

# <runtime-imports>
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from lrspec_optax._names import leaf_names, path_name
from lrspec_optax._rules import group_scalars, init_buffers, leaf_update
from lrspec_optax._schedules import float_dtype, schedule_from_dict

# </runtime-imports>

_INT32_MAX = 2**31 - 1
_REGISTERED: list[type] = []


class PlanState:
    """The state of a plan's transformation: ``count`` (int32 scalar, updates applied so far),
    ``inner`` (per-leaf buffers or the optax chain's state) and ``fingerprint`` (static aux
    data: the plan it belongs to)."""

    def __init__(self, count: Any, inner: Any, fingerprint: str) -> None:
        self.count = count
        self.inner = inner
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"PlanState(count={self.count!r}, fingerprint={self.fingerprint!r}, inner=...)"


def _flatten_state(state: PlanState) -> tuple[Any, str]:
    keys = jax.tree_util.GetAttrKey
    return ((keys("count"), state.count), (keys("inner"), state.inner)), state.fingerprint


def _unflatten_state(fingerprint: str, children: Iterable[Any]) -> PlanState:
    count, inner = children
    return PlanState(count, inner, fingerprint)


if PlanState not in _REGISTERED:  # the module may be inlined into a generated one as well
    jax.tree_util.register_pytree_with_keys(PlanState, _flatten_state, _unflatten_state)
    _REGISTERED.append(PlanState)


OPTAX_NATIVE_FAMILIES = ("sgd", "adam", "adamw", "rmsprop", "adagrad")


def group_family(config: Mapping[str, Any], group: Mapping[str, Any]) -> str:
    """The family of one group of ``config`` (its own, else the plan's)."""
    return str(group.get("family") or config["family"])


def chain_family(config: Mapping[str, Any]) -> str:
    """The family of the trainable groups when they share one (else the plan's)."""
    families = {group_family(config, g) for g in config["groups"] if not g["frozen"]}
    return families.pop() if len(families) == 1 else str(config["family"])


def native_eligible(config: Mapping[str, Any]) -> str | None:
    """None when optax's own transforms reproduce the plan exactly, else why not."""
    trainable = [g for g in config["groups"] if not g["frozen"]]
    if len({group_family(config, g) for g in trainable}) > 1:
        return "groups have different families"
    family = chain_family(config)
    if family not in OPTAX_NATIVE_FAMILIES:
        return f"optax has no transform with torch's {family} rule"
    if any(g["frozen_until"] is not None for g in trainable):
        return "frozen_until needs per-leaf step counts"
    hypers = [g["hyperparameters"] for g in trainable]
    if any(h != hypers[0] for h in hypers[1:]):
        return "groups have different hyperparameters"
    h = hypers[0] if hypers else {}
    if family == "sgd" and float(h.get("dampening", 0.0)) != 0 and float(h.get("momentum", 0.0)) != 0:
        return "optax has no SGD dampening"
    if family in ("adam", "adamw") and h.get("amsgrad", False):
        return "optax's amsgrad takes the max of the bias-corrected second moment"
    if family == "adagrad":
        return "optax's adagrad puts eps inside rsqrt and has no lr_decay"
    return None


def _native_chain(config: Mapping[str, Any], wd_of: Callable[[Any], Any]) -> Any:
    """optax's transforms for the plan's family (the direction, before the per-leaf lr)."""
    family = chain_family(config)
    trainable = [g for g in config["groups"] if not g["frozen"]]
    h = trainable[0]["hyperparameters"] if trainable else {}

    def add_wd() -> Any:
        def update_fn(updates: Any, state: Any, params: Any = None) -> Any:
            return jax.tree.map(lambda u, p, wd: u if wd == 0 else u + wd * p, updates, params, wd_of(params)), state

        return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)

    parts: list[Any] = []
    if family != "adamw":
        parts.append(add_wd())
    if family == "sgd":
        if float(h.get("momentum", 0.0)) != 0:
            parts.append(optax.trace(decay=float(h["momentum"]), nesterov=bool(h.get("nesterov", False))))
    elif family in ("adam", "adamw"):
        b1, b2 = (float(x) for x in h.get("betas", (0.9, 0.999)))
        parts.append(optax.scale_by_adam(b1=b1, b2=b2, eps=float(h.get("eps", 1e-8)), eps_root=0.0))
        if family == "adamw":
            parts.append(add_wd())
    elif family == "rmsprop":
        kw = {"decay": float(h.get("alpha", 0.99)), "eps": float(h.get("eps", 1e-8)), "initial_scale": 0.0}
        scale = optax.scale_by_stddev if h.get("centered", False) else optax.scale_by_rms
        parts.append(scale(**kw, eps_in_sqrt=False))
        if float(h.get("momentum", 0.0)) > 0:
            parts.append(optax.trace(decay=float(h["momentum"]), nesterov=False))
    return optax.chain(*parts)


def build_transformation(
    config: Mapping[str, Any],
    *,
    mode: str = "auto",
    checkpoint_error: type[Exception] = ValueError,
    name_error: type[Exception] = ValueError,
) -> Any:
    """The plan ``config`` as an ``optax.GradientTransformation`` (see the module docstring).

    ``checkpoint_error`` is raised for a state of another plan, ``name_error`` for a tree whose
    leaf names are not the plan's or for a missing ``params`` argument."""
    fingerprint: str = config["fingerprint"]
    groups: list[Mapping[str, Any]] = list(config["groups"])
    families = [group_family(config, g) for g in groups]
    ns_dtype: str | None = config.get("newton_schulz_dtype")
    index: Mapping[str, int] = config["params"]
    schedules = [schedule_from_dict(g["schedule"]) for g in groups]
    schedule_keys = [repr(g["schedule"]) for g in groups]
    why = native_eligible(config)
    if mode not in ("auto", "optax", "lrspec"):
        raise name_error(f"mode must be 'auto', 'optax' or 'lrspec', got {mode!r}")
    if mode == "optax" and why is not None:
        raise name_error(f"mode='optax': optax's transforms are not exact for this plan: {why}")
    native = mode != "lrspec" and why is None

    def group_indices(tree: Any) -> tuple[list[int], list[Any], Any]:
        names, leaves, treedef = leaf_names(tree)
        unknown = [n for n in names if n not in index]
        if unknown:
            raise name_error(
                f"{len(unknown)} leaf name(s) are not parameters of the plan (e.g. {unknown[0]!r}); "
                f"the plan has {len(index)} parameter(s), e.g. {next(iter(index), '')!r}"
            )
        return [index[n] for n in names], leaves, treedef

    def tree_of(tree: Any, fn: Callable[[int], Any]) -> Any:
        return jax.tree_util.tree_map_with_path(lambda path, _: fn(index[path_name(path)]), tree)

    def wd_of(tree: Any) -> Any:
        return tree_of(tree, lambda gi: float(groups[gi]["weight_decay"]))

    def trainable_mask(tree: Any) -> Any:
        return tree_of(tree, lambda gi: not groups[gi]["frozen"])

    chain = optax.masked(_native_chain(config, wd_of), trainable_mask) if native else None

    def init_fn(params: Any) -> PlanState:
        gis, leaves, treedef = group_indices(params)
        if chain is not None:
            inner = chain.init(params)
        else:
            inner = treedef.unflatten(
                [
                    optax.EmptyState()
                    if groups[gi]["frozen"]
                    else init_buffers(families[gi], p, groups[gi]["hyperparameters"])
                    for gi, p in zip(gis, leaves)
                ]
            )
        return PlanState(jnp.zeros([], jnp.int32), inner, fingerprint)

    def update_fn(updates: Any, state: Any, params: Any = None) -> tuple[Any, PlanState]:
        if not isinstance(state, PlanState):
            raise checkpoint_error(
                f"expected the state of plan {fingerprint} (tx.init(params)), got a {type(state).__name__}"
            )
        if state.fingerprint != fingerprint:
            raise checkpoint_error(
                f"the optimizer state belongs to plan {state.fingerprint}, not to this plan {fingerprint}: "
                "it was made by another spec or model; create it with this plan's tx.init(params)"
            )
        gis, grads, treedef = group_indices(updates)
        if params is None:
            raise name_error("tx.update needs params (tx.update(grads, state, params)): lrspec's rules read them")
        ps = treedef.flatten_up_to(params)
        t = state.count
        tf = t.astype(float_dtype())
        lrs: dict[int, Any] = {}
        mults: dict[str, Any] = {}
        scalars: dict[tuple[int, str], Any] = {}

        def lr(gi: int) -> Any:
            """The group's lr at t; the multiplier is computed once per distinct schedule."""
            if gi not in lrs:
                key = schedule_keys[gi]
                if key not in mults:
                    mults[key] = schedules[gi](t)
                lrs[gi] = jnp.asarray(float(groups[gi]["lr"]), float_dtype()) * mults[key]
            return lrs[gi]

        def group_step(gi: int) -> Any:
            return tf + (1.0 - (groups[gi]["frozen_until"] or 0))

        def sc(gi: int, dtype: Any) -> Any:
            key = (gi, str(dtype))
            if key not in scalars:
                grp = groups[gi]
                scalars[key] = group_scalars(
                    families[gi], lr(gi), group_step(gi), float(grp["weight_decay"]), grp["hyperparameters"], dtype
                )
            return scalars[key]

        if chain is not None:
            direction, inner = chain.update(updates, state.inner, params)
            ds = treedef.flatten_up_to(direction)
            out = [
                jnp.zeros_like(g) if groups[gi]["frozen"] else sc(gi, d.dtype)["neg_lr"] * d
                for gi, g, d in zip(gis, grads, ds)
            ]
        else:
            bufs = treedef.flatten_up_to(state.inner)
            out, new_bufs = [], []
            for gi, g, p, b in zip(gis, grads, ps, bufs):
                grp = groups[gi]
                if grp["frozen"]:
                    out.append(jnp.zeros_like(g))
                    new_bufs.append(b)
                    continue
                n = grp["frozen_until"] or 0
                u, nb = leaf_update(
                    families[gi],
                    g,
                    p,
                    b,
                    sc(gi, g.dtype),
                    group_step(gi),
                    float(grp["weight_decay"]),
                    grp["hyperparameters"],
                    ns_dtype,
                )
                if n > 0:
                    active = t >= n
                    u = jnp.where(active, u, jnp.zeros_like(u))
                    nb = {k: jnp.where(active, v, b[k]) for k, v in nb.items()}
                out.append(u)
                new_bufs.append(nb)
            inner = treedef.unflatten(new_bufs)
        count = jnp.where(t < _INT32_MAX, t + 1, t).astype(jnp.int32)
        return treedef.unflatten(out), PlanState(count, inner, fingerprint)

    return optax.GradientTransformation(init_fn, update_fn)
