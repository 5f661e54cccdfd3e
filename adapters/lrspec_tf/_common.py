"""Helpers shared by the TF targets: canonical names, plan-group (de)serialisation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lrspec.errors import TargetError
from lrspec.plan import PlanGroup

__all__ = ["canonical_name", "canonical_path", "group_from_dict", "group_to_dict", "groups_by_param", "strip_suffix"]


def strip_suffix(name: str) -> str:
    """``a/b:0`` -> ``a/b`` (only a trailing ``:<digits>`` is removed)."""
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def canonical_path(name: str) -> str:
    """The canonical lrspec name for a TF/Keras variable path or name: a trailing ``:<digits>``
    removed, ``/`` replaced by ``.`` (``features/0/kernel:0`` -> ``features.0.kernel``). The one
    naming rule of the TF targets: compile, verify, model files and emitted code use it."""
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


def group_to_dict(group: PlanGroup) -> dict[str, Any]:
    """JSON-serialisable data from which :func:`group_from_dict` rebuilds ``group``."""
    return group.to_dict()


def group_from_dict(data: PlanGroup | Mapping[str, Any]) -> PlanGroup:
    """Rebuild a :class:`PlanGroup` from :meth:`PlanGroup.to_dict` output (optimizer configs)."""
    from pydantic import TypeAdapter

    from lrspec.spec.models import Schedule

    if isinstance(data, PlanGroup):
        return data
    hyper = dict(data.get("hyperparameters", {}))
    if "betas" in hyper and isinstance(hyper["betas"], list):
        hyper["betas"] = tuple(float(b) for b in hyper["betas"])
    schedule = TypeAdapter(Schedule).validate_python(data["schedule"])
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
    )


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
