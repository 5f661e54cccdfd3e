"""The spec language: the pydantic models of the format (:mod:`lrspec.spec.models`, leaves in
:mod:`lrspec.spec.nodes`, :mod:`lrspec.spec.optimizers` and :mod:`lrspec.spec.groups`; the
families' names and torch defaults in :mod:`lrspec.spec.families`), their validation
(:mod:`lrspec.spec.validation`, built from :mod:`~lrspec.spec.locations`, :mod:`~lrspec.spec.pydantic_errors` and
:mod:`~lrspec.spec.semantics`), loading files (:mod:`lrspec.spec.loader`), name patterns
(:mod:`lrspec.spec.patterns`) and the published JSON Schema (:mod:`lrspec.spec.schema`).

The models are re-exported here, so ``from lrspec.spec import Spec`` works.
"""

from lrspec.spec.models import *  # noqa: F403
from lrspec.spec.models import __all__ as _models_all

__all__ = list(_models_all)
