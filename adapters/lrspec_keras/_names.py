"""Helpers shared by the Keras and TF targets: canonical names, plan-group (de)serialisation.

Imports no framework. The naming rule (one for the ``keras``/``tf`` and ``tf-v1`` targets,
model files and generated modules):

* a variable of a **Keras model or layer** is named by its place in the model's layer tree:
  the names of the layers from the root (the root itself excluded) down to the layer that
  owns it, then the variable's own name, joined by ``.`` (:func:`keras_variable_names`). This
  equals ``variable.path`` with the root model's scope removed on a freshly built model of
  every kind (Sequential, nested Sequential, functional, subclassed), and it stays the same
  after ``keras.saving.load_model``, which rebuilds Sequentials outside their scope (so
  ``mlp/body/kernel`` reads back as ``body/kernel`` and two nested Sequentials' ``0/kernel``
  collide), and in every process (no auto-generated scope prefix);
* a **bare variable** (a list of variables, a ``tf.Module``, synthetic variables) is named by
  ``variable.path`` or its tf.Variable name through :func:`canonical_path`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import PlanGroup

__all__ = [
    "canonical_name",
    "canonical_path",
    "family_of",
    "group_from_dict",
    "group_to_dict",
    "groups_by_param",
    "keras_variable_names",
    "names_compatible",
    "strip_suffix",
    "variable_names",
]


def strip_suffix(name: str) -> str:
    """``a/b:0`` -> ``a/b`` (only a trailing ``:<digits>`` is removed)."""
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def canonical_path(name: str) -> str:
    """The canonical lrspec name for a TF/Keras variable path or name: a trailing ``:<digits>``
    removed, ``/`` replaced by ``.`` (``features/0/kernel:0`` -> ``features.0.kernel``). The one
    naming rule of the Keras/TF targets: compile, verify, model files and emitted code use it."""
    return strip_suffix(name).replace("/", ".")


def canonical_name(variable: Any) -> str:
    """The canonical lrspec name of a TF/Keras variable: ``variable.path`` (Keras 3) or the
    tf.Variable name, with a trailing ``:0`` removed and ``/`` replaced by ``.``."""
    path = getattr(variable, "path", None)
    if not isinstance(path, str) or not path:
        path = getattr(variable, "name", None)
    if not isinstance(path, str) or not path:
        raise TargetError(f"cannot name variable {variable!r}: it has neither .path nor .name")
    return canonical_path(path)


def keras_variable_names(model: Any) -> dict[int, str]:
    """``id(variable)`` -> canonical name for every variable in the layer tree of the Keras
    model or layer ``model``: layer names from the root (excluded) to the owning layer, then the
    variable's name, ``.``-joined (``features.0.kernel``). Walks the layers' own variables, then
    their sublayers, in Keras's order; a layer reached twice (shared) keeps its first name.
    Reads the tree only, never ``variable.path``, so it is the same before and after
    ``load_model``. Self-contained apart from :func:`canonical_path` (generated modules inline it)."""
    out: dict[int, str] = {}
    visited: set[int] = set()

    def walk(layer: Any, prefix: str) -> None:
        if id(layer) in visited:
            return
        visited.add(id(layer))
        own = list(getattr(layer, "_trainable_variables", [])) + list(getattr(layer, "_non_trainable_variables", []))
        for v in own:
            out.setdefault(id(v), canonical_path(prefix + str(v.name)))
        for sub in getattr(layer, "_layers", []):
            walk(sub, prefix + str(sub.name) + "/")

    walk(model, "")
    return out


def variable_names(model: Any, variables: Sequence[Any]) -> list[str]:
    """The canonical name of each of ``variables`` (variables of ``model``): their layer-tree
    name when ``model`` is a Keras layer or model (:func:`keras_variable_names`), else (or for a
    variable outside the tree) :func:`canonical_name`."""
    tree = keras_variable_names(model) if hasattr(model, "_layers") and hasattr(model, "_trainable_variables") else {}
    return [tree.get(id(v)) or canonical_name(v) for v in variables]


def names_compatible(name: str, read: str) -> bool:
    """True when ``read`` (the name a variable's path gives) can be the variable named ``name``:
    equal, or one ends with the other at a ``.`` boundary (Keras adds a root scope to some
    paths and drops a nested Sequential's scope on load)."""
    return name == read or name.endswith("." + read) or read.endswith("." + name)


def group_to_dict(group: PlanGroup) -> dict[str, Any]:
    """JSON-serialisable data from which :func:`group_from_dict` rebuilds ``group``."""
    return group.to_dict()


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples plans hold (betas, eps pairs, ns_coefficients)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def group_from_dict(data: PlanGroup | Mapping[str, Any], family: str = "") -> PlanGroup:
    """Rebuild a :class:`PlanGroup` from :meth:`PlanGroup.to_dict` output (optimizer configs).
    ``family``: the group's family when the dict does not say (``to_dict`` writes ``family``
    only in mixed-family plans; the optimizer class's family otherwise)."""
    from pydantic import TypeAdapter

    from lrspec.spec.models import Schedule

    if isinstance(data, PlanGroup):
        return data
    hyper = {str(k): _tuples(v) for k, v in dict(data.get("hyperparameters", {})).items()}
    schedule = TypeAdapter(Schedule).validate_python(data["schedule"])
    extra: dict[str, Any] = {}
    if data.get("family"):
        extra = {"family": str(data["family"]), "_show_family": True}
    elif family:
        extra = {"family": family}
    return PlanGroup(
        name=str(data["name"]),
        params=tuple(data["params"]),
        sources=tuple(data.get("sources", ())),
        lr=float(data["lr"]),
        weight_decay=float(data["weight_decay"]),
        hyperparameters=hyper,
        schedule=schedule,
        frozen=bool(data.get("frozen", False)),
        frozen_until=None if data.get("frozen_until") is None else int(data["frozen_until"]),
        layer=data.get("layer"),
        freeze_statistics=bool(data.get("freeze_statistics", False)),
        **extra,
    )


def family_of(group: PlanGroup, default: str) -> str:
    """The family that updates ``group``'s parameters (``group.family``, else ``default``)."""
    return str(getattr(group, "family", "") or default)


def groups_by_param(groups: Sequence[PlanGroup]) -> dict[str, int]:
    """Parameter name -> index of its group."""
    out: dict[str, int] = {}
    for gi, g in enumerate(groups):
        for n in g.params:
            out[n] = gi
    return out


def unknown_variable_error(name: str, known: Iterable[str], where: str) -> TargetError:
    known = list(known)
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    shown = ", ".join(known[:12]) + (f", ... ({len(known)} in all)" if len(known) > 12 else "")
    hint = f" (closest: {', '.join(close)})" if close else ""
    return TargetError(
        f"{where}: variable {name!r} is not in the plan{hint}; the plan's parameters are: {shown}. "
        "Keras auto-generated names depend on process-global counters: name your layers, or compile "
        "the spec for the same model the optimizer is applied to."
    )
