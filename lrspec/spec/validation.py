"""Turn raw spec data into a :class:`~lrspec.spec.Spec`, or a :class:`~lrspec.SpecError`
that lists every problem with a user-facing location.

The pieces live in small modules, in dependency order (none imports this one):

* :mod:`lrspec.spec.locations`: paths (``groups[2].schedule.decay_steps``) and file positions;
* :mod:`lrspec.spec.pydantic_errors`: pydantic's ``ValidationError`` as located problems in
  plain English (union tags dropped, "did you mean" hints);
* :mod:`lrspec.spec.semantics`: what a schema cannot express (duplicate group names, ``lr``
  with ``lr_mult``, hyperparameters of another family, bad regexes, unsorted boundaries, ...);
* :mod:`lrspec.spec.models`: the models, whose every constructor runs both passes through
  :func:`~lrspec.spec.models.validate_data`.

This module is the public face: :func:`validate` (also ``lrspec.validate``) and, for the
loader, :func:`validate_spec_data` with file positions.
"""

from __future__ import annotations

from typing import Any

from lrspec.spec.locations import Path, Positions, format_path, make_problem
from lrspec.spec.models import Spec, validate_data
from lrspec.spec.semantics import semantic_problems

__all__ = ["Path", "Positions", "format_path", "make_problem", "semantic_problems", "validate", "validate_spec_data"]


def validate_spec_data(data: Any, *, file: str | None = None, positions: Positions | None = None) -> Spec:
    """Validate raw data (from JSON/YAML or Python) into a Spec, or raise SpecError whose
    problems carry ``file`` and, where ``positions`` know them, line and column."""
    return validate_data(data, file=file, positions=positions)


def validate(data: Any) -> Spec:
    """Validate a dict (or a Spec) into a :class:`Spec`, or raise :class:`lrspec.SpecError`
    listing every problem with its location (the same problems :func:`lrspec.load` reports)."""
    return validate_data(data)
