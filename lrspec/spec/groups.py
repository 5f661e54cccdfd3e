"""The spec's groups (rules) and layer decay, as pydantic models.

Re-exported by :mod:`lrspec.spec.models` (import them from there). A :class:`Group` selects
parameters by name (``params``), optionally narrowed by number of dimensions (``ndim``) and
by the owning module (``modules``: portable roles of :data:`lrspec.resolve.params.ROLES` or
``"class:Name"``); it sets cascade settings, a family (``optimizer``) and hyperparameter
shortcut keys. :class:`LayerDecay` lists layers from the input side; an entry is a pattern,
a list of patterns (one layer), or ``{params: [...], join: previous, optional: true}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, SerializerFunctionWrapHandler, Tag, field_serializer

from lrspec.spec.families import ALL_HYPERPARAMETERS
from lrspec.spec.nodes import Beta, Betas, NonNegFloat, NonNegInt, PosFloat, PosInt, Schedule, SpecNode
from lrspec.spec.optimizers import (
    GROUP_OPTIMIZER_JSON_SCHEMA,
    AdafactorEps,
    GroupOptimizerSpec,
    NSCoefficients,
    UnitFloat,
)

__all__ = [
    "GROUP_NAME_PATTERN",
    "MODULE_ROLES",
    "Freeze",
    "FreezeUntil",
    "Group",
    "LayerDecay",
    "LayerEntry",
    "LayerSpec",
]

MODULE_ROLES: tuple[str, ...] = ("norm", "conv", "depthwise_conv", "linear", "embedding")
"""The portable roles of the ``modules`` selector (the same tuple as :data:`lrspec.ROLES`)."""


class FreezeUntil(SpecNode):
    """Frozen for updates t < until_step, trained from t = until_step on with fresh optimizer state."""

    until_step: NonNegInt = Field(description="First update (0-based) at which the parameters train.")


def _freeze_tag(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (dict, FreezeUntil)):
        return "until"
    return None


Freeze = Annotated[
    Union[Annotated[bool, Tag("bool")], Annotated[FreezeUntil, Tag("until")]],
    Discriminator(
        _freeze_tag,
        custom_error_type="invalid_freeze",
        custom_error_message="freeze must be true, false or {until_step: N}",
    ),
]

GROUP_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"

Pattern = Annotated[str, Field(min_length=1)]
ModuleSelector = Annotated[str, Field(min_length=1)]


def _ndim_tag(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return "int"
    if isinstance(value, list):
        return "list"
    return None


NdimSelector = Annotated[
    Union[Annotated[NonNegInt, Tag("int")], Annotated[Annotated[list[NonNegInt], Field(min_length=1)], Tag("list")]],
    Discriminator(
        _ndim_tag,
        custom_error_type="invalid_ndim",
        custom_error_message="ndim must be an integer or a non-empty list of integers (numbers of dimensions)",
    ),
]


class Group(SpecNode):
    """A rule: the parameters matched by ``params`` (and ``ndim``/``modules``, when given) get
    the settings this group sets.

    Settings left unset (null) fall through to earlier matching groups, then to
    ``optimizer``/``schedule`` (see the cascade in docs/spec.md). ``optimizer`` (a family)
    is one more such setting; it sets every hyperparameter of its family (torch's defaults for
    those it does not give), and the shortcut keys (``betas``, ``momentum``, ...) of later
    matching groups override them.
    """

    name: str = Field(pattern=GROUP_NAME_PATTERN, description="Unique identifier of the group.")
    params: list[Pattern] = Field(
        min_length=1,
        description='Glob patterns over canonical parameter names ("*" crosses dots); '
        '"re:<regex>" is a Python regular expression that must match the whole name.',
    )
    ndim: NdimSelector | None = Field(
        None,
        description="Only parameters with this number of dimensions (an integer or a list): e.g. 2 for "
        "weight matrices, [0, 1] for biases, norm scales and layer-scale vectors. Needs shapes.",
    )
    modules: Annotated[list[ModuleSelector], Field(min_length=1)] | None = Field(
        None,
        description="Only parameters whose owning module has one of these roles (norm, conv, depthwise_conv, "
        'linear, embedding) or classes ("class:BatchNorm2d": a class name in the module\'s MRO). '
        "Needs module info (the torch and Keras targets provide it).",
    )
    optional: bool = Field(False, description="Allow the group to match no parameter.")
    optimizer: GroupOptimizerSpec | None = Field(
        None,
        description="A family for these parameters and its hyperparameters (torch's defaults for those not "
        "given); no lr/weight_decay here: use the group's lr, lr_mult, weight_decay, decay_mult.",
        json_schema_extra=GROUP_OPTIMIZER_JSON_SCHEMA,
    )
    lr: PosFloat | None = Field(None, description="Absolute learning rate (exclusive with lr_mult).")
    lr_mult: PosFloat | None = Field(None, description="lr = optimizer.lr * lr_mult (exclusive with lr).")
    weight_decay: NonNegFloat | None = Field(None, description="Absolute weight decay (exclusive with decay_mult).")
    decay_mult: NonNegFloat | None = Field(
        None, description="weight_decay = optimizer.weight_decay * decay_mult (exclusive with weight_decay)."
    )
    freeze: Freeze | None = Field(
        None, description="true: never trained; false: trained (unfreezes an earlier match); {until_step: N}."
    )
    freeze_statistics: bool | None = Field(
        None,
        description="Opt-in, only for permanently frozen parameters: also keep the normalization layers owning "
        "them in inference mode (running statistics not updated), like Keras's trainable=False. Default: false "
        "(a freeze stops updates only).",
    )
    schedule: Schedule | None = Field(None, description="Schedule for these parameters (overrides the default).")
    momentum: NonNegFloat | None = Field(None, description="sgd, rmsprop, muon: momentum override.")
    dampening: NonNegFloat | None = Field(None, description="sgd: dampening override.")
    nesterov: bool | None = Field(None, description="sgd, muon: Nesterov override.")
    betas: Betas | None = Field(None, description="adam, adamw, nadam, radam, adamax: betas override.")
    eps: NonNegFloat | AdafactorEps | None = Field(
        None, description="eps override: a number; for adafactor the pair [eps1 (or null), eps2]."
    )
    amsgrad: bool | None = Field(None, description="adam, adamw: AMSGrad override.")
    alpha: UnitFloat | None = Field(None, description="rmsprop: alpha override.")
    centered: bool | None = Field(None, description="rmsprop: centered override.")
    lr_decay: NonNegFloat | None = Field(None, description="adagrad: lr_decay override.")
    initial_accumulator_value: NonNegFloat | None = Field(None, description="adagrad: initial accumulator override.")
    momentum_decay: NonNegFloat | None = Field(None, description="nadam: momentum_decay override.")
    decoupled_weight_decay: bool | None = Field(None, description="nadam, radam: decoupled_weight_decay override.")
    rho: UnitFloat | None = Field(None, description="adadelta: rho override.")
    beta2_decay: Annotated[float, Field(le=0)] | None = Field(None, description="adafactor: beta2_decay override.")
    d: Annotated[float, Field(ge=1)] | None = Field(None, description="adafactor: clipping threshold d override.")
    ns_coefficients: NSCoefficients | None = Field(None, description="muon: Newton-Schulz coefficients override.")
    ns_steps: Annotated[PosInt, Field(lt=100)] | None = Field(None, description="muon: ns_steps override.")
    adjust_lr_fn: Literal["original", "match_rms_adamw"] | None = Field(
        None, description="muon: adjust_lr_fn override (null here means unset: use optimizer for null)."
    )

    @field_serializer("optimizer", mode="wrap")
    def _family_only(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        """Dumps of a group's ``optimizer`` never hold ``lr``/``weight_decay`` (the node's unused
        defaults), so that ``validate(spec.model_dump())`` round-trips."""
        data = handler(value)
        if isinstance(data, dict):
            data.pop("lr", None)
            data.pop("weight_decay", None)
        return data

    def hyperparameters_set(self) -> dict[str, Any]:
        """The family hyperparameter shortcut keys this group sets (fields that are not None)."""
        return {n: getattr(self, n) for n in ALL_HYPERPARAMETERS if getattr(self, n) is not None}

    def ndims(self) -> tuple[int, ...] | None:
        """The ``ndim`` selector as a tuple (None: no selector)."""
        if self.ndim is None:
            return None
        return (self.ndim,) if isinstance(self.ndim, int) else tuple(self.ndim)


class LayerEntry(SpecNode):
    """A layer-decay entry in mapping form: its patterns form one layer, or join the previous one."""

    params: list[Pattern] = Field(min_length=1, description='Patterns of this layer ("{i}" expands, see layers).')
    join: Literal["previous"] | None = Field(
        None,
        description="previous: these parameters join the layer of the previous entry (its last expanded "
        "layer; timm's MATCH_PREV_GROUP) instead of forming a new one.",
    )
    optional: bool = Field(False, description="Allow these patterns to match no parameter (e.g. cls_token).")


def _layer_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "pattern"
    if isinstance(value, list):
        return "patterns"
    if isinstance(value, (dict, LayerEntry)):
        return "entry"
    return None


LayerSpec = Annotated[
    Union[
        Annotated[Pattern, Tag("pattern")],
        Annotated[Annotated[list[Pattern], Field(min_length=1)], Tag("patterns")],
        Annotated[LayerEntry, Tag("entry")],
    ],
    Discriminator(
        _layer_tag,
        custom_error_type="invalid_layer",
        custom_error_message="a layer entry is a pattern, a list of patterns, or {params: [...], join: previous}",
    ),
]


class LayerDecay(SpecNode):
    """Layer-wise lr decay: the parameter at depth d of D gets lr * rate ** (D - 1 - d)."""

    rate: PosFloat = Field(description="Factor per layer away from the output side (> 0).")
    layers: list[LayerSpec] = Field(
        min_length=1,
        description="Entries from the input side to the output side, each a pattern, a list of patterns (one "
        'layer) or {params: [...], join: previous}; "{i}" matches an integer and expands to one layer per '
        "index found (numerically sorted).",
    )
    unmatched: Literal["none", "last"] = Field(
        "none",
        description="Parameters no entry matches: none: no layer (factor 1); last: one more layer after the "
        "last (factor 1; timm's rule, which makes the other factors rate^(layer_max - layer)).",
    )

    def entries(self) -> list[tuple[tuple[str, ...], bool, bool]]:
        """Each entry as (patterns, joins the previous layer, optional)."""
        out: list[tuple[tuple[str, ...], bool, bool]] = []
        for entry in self.layers:
            if isinstance(entry, str):
                out.append(((entry,), False, False))
            elif isinstance(entry, LayerEntry):
                out.append((tuple(entry.params), entry.join == "previous", entry.optional))
            else:
                out.append((tuple(entry), False, False))
        return out


assert Beta is not None
