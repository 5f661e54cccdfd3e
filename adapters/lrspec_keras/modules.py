"""Parameter metadata of a Keras model: shape and owning layer (:class:`lrspec.ParamMeta`).

The owning layer of a variable is the layer whose *own* weights hold it (``layer._trainable_variables``
/ ``_non_trainable_variables``, not those of its sublayers): for ``mha.query.kernel`` the
``EinsumDense`` named ``query`` inside the ``MultiHeadAttention``, for ``inner.d1.kernel`` the
``Dense`` ``d1`` inside the nested ``Sequential`` ``inner``. The layer tree is walked as
:func:`lrspec_keras._names.keras_variable_names` walks it (own variables, then sublayers; a shared
layer keeps its first place), so names and order are exactly those of the shapes listing. Its
:class:`lrspec.ModuleInfo`:

* ``type``: the layer's class name; ``classes``: the class names of its MRO, most derived first,
  Keras's and the backend's base classes included (``("DepthwiseConv2D", "BaseDepthwiseConv",
  "Layer", "TFLayer", ..., "Operation", "KerasSaveable")`` on TensorFlow; ``object`` left out);
* ``roles`` (the portable vocabulary :data:`lrspec.resolve.params.ROLES`):

  - ``norm``: ``BatchNormalization``, ``LayerNormalization``, ``GroupNormalization``,
    ``UnitNormalization``, ``RMSNormalization``, and any class whose name contains ``Norm``;
  - ``conv``: ``Conv1D/2D/3D``, ``Conv1D/2D/3DTranspose``, ``SeparableConv1D/2D``,
    ``DepthwiseConv1D/2D`` (and their ``keras.src`` base classes ``BaseConv``, ``BaseConvTranspose``,
    ``BaseSeparableConv``, ``BaseDepthwiseConv``, where this Keras has them, so subclasses count);
  - ``depthwise_conv``: ``DepthwiseConv1D/2D`` (``BaseDepthwiseConv``; always), and a conv with ``groups > 1`` whose
    input channels equal ``groups`` (its kernel's input-channel axis, ``kernel.shape[-2]``, is 1;
    MMEngine's ``groups == in_channels`` rule). ``SeparableConv*`` (a depthwise and a pointwise
    kernel in one layer) is ``conv`` only;
  - ``linear``: ``Dense``, ``EinsumDense``;
  - ``embedding``: ``Embedding``.

Class names and roles are computed once per class (the grouped-conv test once per conv layer),
so listing a large model stays about as fast as listing its shapes. Inputs that are not Keras
layers (a ``tf.Module``, a list of variables) have no layers to describe: name -> shape.
"""

from __future__ import annotations

from typing import Any

from lrspec.resolve.params import ModuleInfo, ParamMeta
from lrspec_keras.builder import named_variables

__all__ = ["layer_info", "param_meta", "variable_owners"]

_BY_CLASS: dict[type, ModuleInfo] = {}
_DEPTHWISE_BY_CLASS: dict[type, ModuleInfo] = {}
_ROLE_TYPES: dict[str, tuple[type, ...]] = {}


def _classes(module: Any, *names: str) -> tuple[type, ...]:
    """The classes ``module.<name>`` that exist (Keras versions differ)."""
    return tuple(c for c in (getattr(module, n, None) for n in names) if isinstance(c, type))


def _role_types() -> dict[str, tuple[type, ...]]:
    """Role -> the Keras layer classes that have it (computed once)."""
    if not _ROLE_TYPES:
        from keras import layers

        depthwise = _classes(layers, "DepthwiseConv1D", "DepthwiseConv2D")
        conv = _classes(
            layers,
            "Conv1D",
            "Conv2D",
            "Conv3D",
            "Conv1DTranspose",
            "Conv2DTranspose",
            "Conv3DTranspose",
            "SeparableConv1D",
            "SeparableConv2D",
            "DepthwiseConv1D",
            "DepthwiseConv2D",
        )
        try:  # Keras 3's private base classes: a user's subclass of them is a conv too
            from keras.src.layers.convolutional import (
                base_conv,
                base_conv_transpose,
                base_depthwise_conv,
                base_separable_conv,
            )

            conv += _classes(base_conv, "BaseConv") + _classes(base_conv_transpose, "BaseConvTranspose")
            depthwise += _classes(base_depthwise_conv, "BaseDepthwiseConv")
            conv += _classes(base_separable_conv, "BaseSeparableConv")
        except ImportError:  # pragma: no cover - other Keras layouts: the public classes suffice
            pass
        _ROLE_TYPES.update(
            norm=_classes(
                layers,
                "BatchNormalization",
                "LayerNormalization",
                "GroupNormalization",
                "UnitNormalization",
                "RMSNormalization",
            ),
            conv=conv + depthwise,
            depthwise_conv=depthwise,
            linear=_classes(layers, "Dense", "EinsumDense"),
            embedding=_classes(layers, "Embedding"),
        )
    return _ROLE_TYPES


def _class_info(cls: type) -> ModuleInfo:
    info = _BY_CLASS.get(cls)
    if info is None:
        types = _role_types()
        roles = {role for role, classes in types.items() if classes and issubclass(cls, classes)}
        if "Norm" in cls.__name__:
            roles.add("norm")
        classes = tuple(c.__name__ for c in cls.__mro__ if c is not object)
        info = _BY_CLASS[cls] = ModuleInfo(cls.__name__, classes, frozenset(roles))
    return info


def _grouped_depthwise(layer: Any) -> bool:
    """``groups > 1`` and input channels == ``groups``: the kernel's input-channel axis
    (``kernel.shape[-2]`` = input channels / groups in every Keras conv kernel layout) is 1."""
    groups = getattr(layer, "groups", 1)
    if not isinstance(groups, int) or groups <= 1:
        return False
    shape = getattr(getattr(layer, "kernel", None), "shape", None)
    try:
        return shape is not None and len(shape) >= 2 and int(shape[-2]) == 1
    except (TypeError, ValueError):
        return False


def layer_info(layer: Any) -> ModuleInfo:
    """The :class:`lrspec.ModuleInfo` of the Keras layer ``layer`` (see the module docstring)."""
    info = _class_info(type(layer))
    if "conv" in info.roles and "depthwise_conv" not in info.roles and _grouped_depthwise(layer):
        cls = type(layer)
        dw = _DEPTHWISE_BY_CLASS.get(cls)
        if dw is None:
            dw = _DEPTHWISE_BY_CLASS[cls] = ModuleInfo(info.type, info.classes, info.roles | {"depthwise_conv"})
        return dw
    return info


def variable_owners(model: Any) -> dict[int, Any]:
    """``id(variable)`` -> the layer that owns it, for every variable in the layer tree of the
    Keras model or layer ``model`` (the walk of :func:`lrspec_keras._names.keras_variable_names`:
    a layer's own variables, then its sublayers; the first owner reached wins)."""
    out: dict[int, Any] = {}
    visited: set[int] = set()

    def walk(layer: Any) -> None:
        if id(layer) in visited:
            return
        visited.add(id(layer))
        for v in list(getattr(layer, "_trainable_variables", [])) + list(
            getattr(layer, "_non_trainable_variables", [])
        ):
            out.setdefault(id(v), layer)
        for sub in getattr(layer, "_layers", []):
            walk(sub)

    walk(model)
    return out


def _shape(variable: Any) -> tuple[int, ...] | None:
    shape = getattr(variable, "shape", None)
    try:
        return None if shape is None else tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        return None


def param_meta(model: Any) -> dict[str, ParamMeta] | dict[str, tuple[int, ...] | None]:
    """Canonical name -> :class:`lrspec.ParamMeta` (shape and owning layer) of every trainable
    variable of the Keras model or layer ``model``, with the names and in the order of
    :func:`lrspec_keras.builder.param_shapes`; a variable outside the layer tree gets
    ``module=None``. Any other input (a ``tf.Module``, a list of variables): name -> shape."""
    variables, names = named_variables(model)
    if not (hasattr(model, "_layers") and hasattr(model, "_trainable_variables")):
        return {n: _shape(v) for v, n in zip(variables, names)}
    owners = variable_owners(model)
    out: dict[str, ParamMeta] = {}
    for v, n in zip(variables, names):
        owner = owners.get(id(v))
        out[n] = ParamMeta(_shape(v), None if owner is None else layer_info(owner))
    return out
