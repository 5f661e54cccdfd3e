"""The Keras/TF naming rule and plan-group (de)serialisation, now in :mod:`lrspec_keras._names`
(re-exported here for ``tf-v1`` and old import paths; see that module for the rule)."""

from __future__ import annotations

from lrspec_keras._names import (
    canonical_name,
    canonical_path,
    family_of,
    group_from_dict,
    group_to_dict,
    groups_by_param,
    keras_variable_names,
    names_compatible,
    strip_suffix,
    unknown_variable_error,
    variable_names,
)

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
    "unknown_variable_error",
    "variable_names",
]
