"""Compiling a plan for optax: the plan as plain data, the transformation, the checks
(see :mod:`lrspec_optax.target`)."""

from __future__ import annotations

import difflib
from typing import Any

from lrspec.errors import CheckpointError, TargetError
from lrspec.plan import Plan
from lrspec_optax._names import leaf_names
from lrspec_optax.compiled import CompiledOptax

__all__ = ["OPTIONS", "compile_plan", "param_shapes", "plan_config"]

OPTIONS = ("mode", "newton_schulz_dtype")
NS_DTYPES = (None, "bfloat16", "float32", "float64")


def param_shapes(model: Any) -> dict[str, tuple[int, ...] | None]:
    """Canonical name -> shape of every leaf of the parameter pytree ``model`` (tree order).

    Raises :class:`lrspec.TargetError` for an empty tree, a leaf without a shape, or two leaves
    with the same canonical name."""
    try:
        names, leaves, _ = leaf_names(model)
    except Exception as exc:  # not a pytree jax can flatten
        raise TargetError(f"cannot read the parameter pytree: {type(exc).__name__}: {exc}") from None
    if not leaves:
        raise TargetError("the parameter pytree has no leaves (expected a pytree of jax arrays)")
    out: dict[str, tuple[int, ...] | None] = {}
    for name, leaf in zip(names, leaves):
        shape = getattr(leaf, "shape", None)
        if shape is None:
            raise TargetError(
                f"leaf {name!r} is a {type(leaf).__name__}, not an array (expected a pytree of jax arrays)"
            )
        if name in out:
            raise TargetError(f"two leaves of the parameter pytree have the canonical name {name!r}")
        out[name] = tuple(int(d) for d in shape)
    return out


def _hyper(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def plan_config(plan: Plan, newton_schulz_dtype: str | None = None) -> dict[str, Any]:
    """The plan as the plain data the optax runtime reads (JSON-serialisable); each group
    carries its family; ``newton_schulz_dtype`` is muon's iteration dtype (None: bfloat16)."""
    return {
        "family": plan.family,
        "fingerprint": plan.fingerprint,
        "newton_schulz_dtype": None if newton_schulz_dtype == "bfloat16" else newton_schulz_dtype,
        "groups": [
            {
                "name": g.name,
                "family": getattr(g, "family", "") or plan.family,
                "lr": float(g.lr),
                "weight_decay": float(g.weight_decay),
                "hyperparameters": {k: _hyper(v) for k, v in g.hyperparameters.items()},
                "schedule": g.schedule.model_dump(mode="json"),
                "frozen": bool(g.frozen),
                "frozen_until": g.frozen_until,
            }
            for g in plan.groups
        ],
        "params": {n: k for k, g in enumerate(plan.groups) for n in g.params},
    }


def compile_plan(plan: Plan, model: Any, **options: Any) -> CompiledOptax:
    """The optax transformation of ``plan`` for the parameter pytree ``model``.

    Option ``mode``: ``"auto"`` (default: optax's own transforms where they are exact for the
    plan, else lrspec's rule), ``"optax"`` (refused when not exact) or ``"lrspec"``. Option
    ``newton_schulz_dtype`` (muon): None (default: bfloat16, as torch's stock Muon),
    ``"float32"`` or ``"float64"`` (needs ``jax_enable_x64``, else a TargetError). Raises
    :class:`lrspec.TargetError` for an unknown option, a plan resolved for other names or
    shapes, or a tree that is not a pytree of arrays."""
    import jax

    from lrspec_optax._transform import build_transformation, native_eligible

    unknown = [k for k in options if k not in OPTIONS]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, OPTIONS, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TargetError(f"unknown optax target option(s) {', '.join(hints)}; options are: {', '.join(OPTIONS)}")
    if not isinstance(plan, Plan):
        raise TargetError(f"compile() needs a lrspec.Plan, got {type(plan).__name__}")
    mode = options.get("mode", "auto")
    ns_dtype = options.get("newton_schulz_dtype")
    if ns_dtype not in NS_DTYPES:
        raise TargetError(f"newton_schulz_dtype must be None, 'float32' or 'float64', got {ns_dtype!r}")
    if ns_dtype == "float64" and jax.dtypes.canonicalize_dtype("float64") != "float64":
        raise TargetError(
            "newton_schulz_dtype='float64' needs jax_enable_x64 (jax.config.update('jax_enable_x64', True), "
            "or build and run inside `with jax.enable_x64(True):`)"
        )
    shapes = param_shapes(model)
    missing = [n for n in plan.names if n not in shapes]
    extra = [n for n in shapes if n not in set(plan.names)]
    if missing or extra:
        raise TargetError(
            "the plan was resolved for other parameters: "
            + (f"not in the pytree: {', '.join(map(repr, missing[:5]))}; " if missing else "")
            + (f"not in the plan: {', '.join(map(repr, extra[:5]))}" if extra else "")
        )
    for n in plan.names:
        want = plan.param(n).shape
        if want is not None and tuple(want) != shapes[n]:
            raise TargetError(f"parameter {n!r} has shape {shapes[n]}, the plan says {tuple(want)}")
    config = plan_config(plan, ns_dtype)
    why = native_eligible(config)
    tx = build_transformation(config, mode=mode, checkpoint_error=CheckpointError, name_error=TargetError)
    native = mode != "lrspec" and why is None
    template = jax.eval_shape(tx.init, model)
    return CompiledOptax(optimizer=tx, plan=plan, native=native, native_reason=why, template=template)
