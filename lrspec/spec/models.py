"""The lrspec spec language, version 1, as pydantic models.

These models are the single definition of the format: the JSON Schema in
``schemas/lrspec-v1.schema.json`` is generated from them (``lrspec schema``), and the
loader (:mod:`lrspec.spec.loader`) validates files with them. Every model forbids unknown keys
and is immutable. Field descriptions double as editor tooltips.

Every public way to build a :class:`Spec` validates fully: ``Spec(**data)``,
:meth:`Spec.model_validate`, :meth:`Spec.model_validate_json`, :meth:`Spec.model_construct`,
:meth:`Spec.model_copy` with ``update`` (and :func:`lrspec.validate`, :func:`lrspec.load`) run
pydantic's checks *and* the semantic checks of :mod:`lrspec.spec.semantics`, and raise
:class:`lrspec.SpecError` listing every problem with its location instead of pydantic's
``ValidationError``. They all go through :func:`validate_data`.

The leaf nodes live in :mod:`lrspec.spec.nodes` (schedules), :mod:`lrspec.spec.optimizers`
(one node per family, top-level and group-level) and :mod:`lrspec.spec.groups` (groups, their
selectors, layer decay); they are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from lrspec.errors import Problem, SpecError
from lrspec.spec.families import FAMILY_HYPERPARAMETERS
from lrspec.spec.groups import MODULE_ROLES, FreezeUntil, Group, LayerDecay, LayerEntry
from lrspec.spec.locations import Positions, format_path, make_problem
from lrspec.spec.nodes import (
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    InverseTimeSchedule,
    LinearSchedule,
    MultiStepSchedule,
    PiecewiseSchedule,
    PolynomialSchedule,
    Schedule,
    SequenceSchedule,
    SpecNode,
    StepSchedule,
    WarmupSchedule,
)
from lrspec.spec.optimizers import (
    AdadeltaOptimizer,
    AdafactorOptimizer,
    AdagradOptimizer,
    AdamaxOptimizer,
    AdamOptimizer,
    AdamWOptimizer,
    GroupOptimizerSpec,
    MuonOptimizer,
    NAdamOptimizer,
    OptimizerSpec,
    RAdamOptimizer,
    RMSpropOptimizer,
    SGDOptimizer,
)
from lrspec.spec.pydantic_errors import pydantic_problems, type_name
from lrspec.spec.semantics import semantic_problems

__all__ = [
    "FAMILY_HYPERPARAMETERS",
    "MODULE_ROLES",
    "AdadeltaOptimizer",
    "AdafactorOptimizer",
    "AdagradOptimizer",
    "AdamOptimizer",
    "AdamWOptimizer",
    "AdamaxOptimizer",
    "ConstantSchedule",
    "CosineSchedule",
    "ExponentialSchedule",
    "FreezeUntil",
    "Group",
    "GroupOptimizerSpec",
    "InverseTimeSchedule",
    "LayerDecay",
    "LayerEntry",
    "LinearSchedule",
    "MultiStepSchedule",
    "MuonOptimizer",
    "NAdamOptimizer",
    "OptimizerSpec",
    "PiecewiseSchedule",
    "PolynomialSchedule",
    "RAdamOptimizer",
    "RMSpropOptimizer",
    "SGDOptimizer",
    "Schedule",
    "SequenceSchedule",
    "Spec",
    "StepSchedule",
    "WarmupSchedule",
    "validate_data",
]


class Spec(SpecNode):
    """A learning-rate spec, version 1."""

    model_config = ConfigDict(
        title="lrspec v1",
        json_schema_extra={"$id": "https://lrspec.dev/schemas/lrspec-v1.schema.json"},
    )

    version: Literal[1] = Field(description="Format version; must be 1.")
    optimizer: OptimizerSpec = Field(description="Optimizer family and defaults (torch's definitions).")
    schedule: Schedule = Field(
        default_factory=lambda: ConstantSchedule(type="constant"),
        description="Default schedule for every group: a multiplier m(t) of the group's lr.",
    )
    groups: list[Group] = Field(default_factory=list, description="Rules, applied in file order.")
    layer_decay: LayerDecay | None = Field(None, description="Optional layer-wise lr decay.")
    unmatched: Literal["train", "freeze", "error"] = Field(
        "train", description="What happens to parameters no group matches."
    )

    def __init__(self, /, **data: Any) -> None:
        """``Spec(version=1, optimizer={...}, ...)``: validated like :func:`lrspec.validate`."""
        _checked(data, lambda d: super(Spec, self).__init__(**d), None, None)

    # pydantic calls a custom __init__ from every validation; this one is only the entry point
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(  # type: ignore[override]
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        **kwargs: Any,
    ) -> Spec:
        """Validate a dict (or a Spec) into a :class:`Spec`, raising :class:`lrspec.SpecError`
        (every problem with its location) instead of pydantic's ``ValidationError``."""
        return validate_data(obj)

    @classmethod
    def model_validate_json(  # type: ignore[override]
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        context: Any | None = None,
        **kwargs: Any,
    ) -> Spec:
        """Parse JSON text and validate it like :meth:`model_validate` (SpecError on bad JSON too)."""
        try:
            data = json.loads(json_data)
        except (ValueError, TypeError) as exc:
            raise SpecError(Problem("", f"invalid JSON: {exc}")) from None
        return validate_data(data)

    @classmethod
    def model_validate_strings(cls, obj: Any, **kwargs: Any) -> Spec:  # type: ignore[override]
        """Not supported: a spec's numbers are numbers, not strings. Use :meth:`model_validate`."""
        raise SpecError("Spec.model_validate_strings is not supported: use Spec.model_validate or lrspec.validate")

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Spec:  # type: ignore[override]
        """Validated like :meth:`model_validate` (a Spec is never built unchecked)."""
        return validate_data(values)

    def model_copy(self, *, update: Any | None = None, deep: bool = False) -> Spec:  # type: ignore[override]
        """A copy; with ``update``, the updated data is validated like :meth:`model_validate`."""
        if not update:
            return super().model_copy(deep=deep)
        return validate_data({**self.model_dump(mode="python", exclude_unset=True), **dict(update)})


def validate_data(data: Any, *, file: str | None = None, positions: Positions | None = None) -> Spec:
    """Validate raw data (a dict, or a Spec, validated again from its fields) into a
    :class:`Spec`: pydantic's checks and the semantic checks. Raises :class:`lrspec.SpecError`
    with every problem, located (``file:line:col`` when ``positions`` are given), sorted by
    position. The one way in: every constructor of Spec calls this."""
    spec = _checked(data, Spec.__pydantic_validator__.validate_python, file, positions)
    assert isinstance(spec, Spec)
    return spec


def _checked(data: Any, build: Callable[[Any], Any], file: str | None, positions: Positions | None) -> Any:
    """``build(data)`` (pydantic's validation) plus the semantic checks, problems as one SpecError."""
    if isinstance(data, Spec):
        data = data.model_dump(mode="python", exclude_unset=True)
    if not isinstance(data, dict):
        message = f"a spec must be a mapping with keys version, optimizer, ...; got {type_name(data)}"
        raise SpecError([make_problem((), message, file, positions)], file=file)
    problems: list[Problem] = []
    result: Any = None
    try:
        result = build(data)
    except ValidationError as exc:
        problems = pydantic_problems(Spec, exc, file, positions)
    reported = {(p.location, p.message) for p in problems}
    for path, message in semantic_problems(data):
        if (format_path(path), message) not in reported:
            problems.append(make_problem(path, message, file, positions))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise SpecError(problems, file=file)
    return result
