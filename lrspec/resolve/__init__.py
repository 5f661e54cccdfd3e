"""Resolution: a :class:`~lrspec.spec.Spec` plus parameter names -> :class:`~lrspec.plan.Plan`.

The cascade (docs/spec.md): a parameter collects every group that matches it (a pattern of
``params`` matches the name and the ``ndim``/``modules`` selectors, if any, accept its shape /
owning module), in file order; each setting comes from the last matching group that sets it,
else from ``optimizer``/``schedule``. ``lr``/``lr_mult`` set the same thing, as do
``weight_decay``/``decay_mult``; a group's ``optimizer`` sets the family and all its
hyperparameters (torch's defaults for those not given). Layer decay then multiplies the lr by
``rate ** (D - 1 - d)``. Parameters with identical effective settings are merged into one
plan group; groups are ordered by the first appearance of their parameters.

Modules, in pipeline order: :mod:`~lrspec.resolve.params` (checking the names, shapes and
module infos), :mod:`~lrspec.resolve.matching` (groups and layers per name),
:mod:`~lrspec.resolve.cascade` (settings per set of matched groups, freezes and families
included; families' shape restrictions), :mod:`~lrspec.resolve.layers` (layer
decay), :mod:`~lrspec.resolve.merge` (plan groups and the Plan).

Performance: names are matched with one regex scan per pattern (:class:`NameIndex`), and the
cascade runs once per distinct combination of (matched groups, layer), not once per name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lrspec.errors import ResolveError
from lrspec.plan import Plan
from lrspec.resolve.cascade import family_shape_errors, settings_per_match
from lrspec.resolve.layers import layer_decayed
from lrspec.resolve.matching import ParamFacts, layer_depths, match_groups, unmatched_errors
from lrspec.resolve.merge import merge
from lrspec.resolve.params import ROLES, ModuleInfo, ParamMeta, normalize_param_meta, normalize_params
from lrspec.spec.models import Spec
from lrspec.spec.patterns import NameIndex

__all__ = ["ROLES", "ModuleInfo", "ParamMeta", "normalize_params", "resolve"]


def resolve(spec: Spec, params: Iterable[str] | Mapping[str, Any]) -> Plan:
    """Resolve ``spec`` against parameter names (or a mapping name -> shape) into a Plan.

    ``params``: names, a mapping name -> shape, or name -> :class:`ParamMeta` (shape and
    owning module; what ``Target.parameters(model)`` returns).

    Raises :class:`lrspec.ResolveError` when a pattern of a non-optional group (or a
    layer-decay pattern) matches no parameter, when ``unmatched: error`` and some parameter
    matches no group, when ``ndim``/``modules`` are used without shapes/module info, when the
    effective hyperparameters of a parameter are invalid (e.g. nesterov without momentum, a
    key its family lacks), or when a family gets parameters it cannot take (muon: not 2-D).
    Matching problems are reported together.

    Cost: one regex scan per pattern over all names, then the cascade once per distinct set
    of matched groups; linear in the number of names.
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"resolve() needs a lrspec.Spec, got {type(spec).__name__}; use lrspec.load() first")
    names, shapes, modules = normalize_param_meta(params)
    if not names:
        raise ResolveError("no parameters to resolve (the model has no parameters?)")
    index = NameIndex(names)
    facts = ParamFacts(names, shapes, modules)
    matched, errors = match_groups(spec, names, index, facts=facts)
    depth, layer_labels, layer_errors = layer_depths(spec, names, index)
    errors += layer_errors + unmatched_errors(spec, names, matched)
    if errors:
        raise ResolveError("cannot resolve the spec:\n  " + "\n  ".join(errors) if len(errors) > 1 else errors[0])
    rules, bases, match_of_name = settings_per_match(spec, matched)
    shape_errors = family_shape_errors(bases, match_of_name, names, facts)
    if shape_errors:
        raise ResolveError("\n".join(shape_errors))
    combos = layer_decayed(spec, bases, match_of_name, depth, len(layer_labels))
    return merge(spec, names, shapes, rules, bases, combos, depth.tolist(), layer_labels, modules)
