"""Parameter metadata of a torch model: shape and owning module (:class:`lrspec.ParamMeta`).

The owning module of a parameter is the module whose *direct* parameter it is (the one at the
name's prefix: ``blocks.0.norm1`` for ``blocks.0.norm1.weight``). Its :class:`lrspec.ModuleInfo`:

* ``type``: the class name; ``classes``: the class names of its MRO, most derived first,
  torch's base classes included (``("LayerNorm2d", "LayerNorm", "Module")``; ``object`` left out);
* ``roles`` (the portable vocabulary :data:`lrspec.resolve.params.ROLES`):

  - ``norm``: ``nn.modules.batchnorm._NormBase`` (BatchNorm*, InstanceNorm*, SyncBatchNorm),
    ``nn.GroupNorm``, ``nn.LayerNorm``, ``nn.RMSNorm``, ``nn.LocalResponseNorm``, and any class
    whose name contains ``Norm`` (timm ``LayerNorm2d``, HF ``LlamaRMSNorm``/``*LayerNorm``);
  - ``conv``: ``nn.modules.conv._ConvNd`` (Conv1d/2d/3d, the transposed and lazy ones);
  - ``depthwise_conv``: such a conv with ``groups == in_channels > 1`` (MMEngine's rule);
  - ``linear``: ``nn.Linear`` (and subclasses such as ``LazyLinear``), and HF transformers'
    ``Conv1D`` (GPT-2's dense layer, a linear layer with a transposed weight);
  - ``embedding``: ``nn.Embedding``, ``nn.EmbeddingBag``.

Class names and roles are computed once per class (the depthwise test once per conv module),
so listing a large model stays about as fast as listing its shapes.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

from lrspec.errors import TargetError
from lrspec.resolve.params import ModuleInfo, ParamMeta
from lrspec_torch.names import canonical_name, named_tensors, unwrap

__all__ = ["module_info", "param_meta"]

_NORM_TYPES: tuple[type, ...] = (_NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm) + (
    (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()
)

_BY_CLASS: dict[type, ModuleInfo] = {}
_DEPTHWISE_BY_CLASS: dict[type, ModuleInfo] = {}


def _class_info(cls: type) -> ModuleInfo:
    info = _BY_CLASS.get(cls)
    if info is None:
        roles: set[str] = set()
        if issubclass(cls, _NORM_TYPES) or "Norm" in cls.__name__:
            roles.add("norm")
        if issubclass(cls, _ConvNd):
            roles.add("conv")
        if issubclass(cls, nn.Linear) or (cls.__name__ == "Conv1D" and cls.__module__.startswith("transformers")):
            roles.add("linear")
        if issubclass(cls, (nn.Embedding, nn.EmbeddingBag)):
            roles.add("embedding")
        classes = tuple(c.__name__ for c in cls.__mro__ if c is not object)
        info = _BY_CLASS[cls] = ModuleInfo(cls.__name__, classes, frozenset(roles))
    return info


def module_info(module: nn.Module) -> ModuleInfo:
    """The :class:`lrspec.ModuleInfo` of ``module`` (see the module docstring)."""
    info = _class_info(type(module))
    if "conv" in info.roles:
        groups, in_channels = getattr(module, "groups", 1), getattr(module, "in_channels", 0)
        if isinstance(groups, int) and groups > 1 and groups == in_channels:
            cls = type(module)
            dw = _DEPTHWISE_BY_CLASS.get(cls)
            if dw is None:
                dw = _DEPTHWISE_BY_CLASS[cls] = ModuleInfo(info.type, info.classes, info.roles | {"depthwise_conv"})
            return dw
    return info


def param_meta(model: Any) -> dict[str, ParamMeta] | dict[str, tuple[int, ...] | None]:
    """Canonical name -> :class:`lrspec.ParamMeta` (shape and owning module) for every name of
    every parameter of an ``nn.Module`` (tied tensors under each name), in ``named_parameters``
    order; name -> shape for a mapping / iterable of ``(name, tensor)`` (no modules to describe).
    Raises :class:`lrspec.TargetError` for a name listed twice."""
    if not isinstance(model, nn.Module):
        shapes: dict[str, tuple[int, ...] | None] = {}
        for name, tensor in named_tensors(model):
            if name in shapes:
                raise TargetError(f"parameter name {name!r} appears twice in the model's parameters")
            shapes[name] = tuple(tensor.shape)
        return shapes
    out: dict[str, ParamMeta] = {}
    # what named_parameters(remove_duplicate=False) walks, keeping the owning module at hand
    for mname, module in unwrap(model).named_modules(remove_duplicate=False):
        own = [(k, v) for k, v in module._parameters.items() if v is not None]
        if not own:
            continue
        info = module_info(module)
        for pname, tensor in own:
            name = canonical_name(f"{mname}.{pname}" if mname else pname)
            if name in out:
                raise TargetError(f"parameter name {name!r} appears twice in the model's parameters")
            out[name] = ParamMeta(tuple(tensor.shape), info)
    return out
