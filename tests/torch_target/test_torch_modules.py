"""``TorchTarget.parameters(model)``: name -> ParamMeta(shape, ModuleInfo) (contract K4).

The owning module is the one whose direct parameter it is; classes are its MRO names; roles per
lrspec.resolve.params.ROLES (depthwise conv: groups == in_channels > 1).
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrspec  # noqa: E402
from lrspec.resolve.params import ModuleInfo, ParamMeta  # noqa: E402


class LayerNorm2d(nn.LayerNorm):
    """timm's channels-first LayerNorm (a subclass of nn.LayerNorm)."""


class MyRMSNorm(nn.Module):
    """An HF-style RMSNorm: not a torch norm class, but its name says Norm."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


class Conv1D(nn.Module):
    """Stands for transformers.pytorch_utils.Conv1D (GPT-2's dense layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(4, 6))
        self.bias = nn.Parameter(torch.zeros(6))


Conv1D.__module__ = "transformers.pytorch_utils"


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.stem = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, groups=4)
        self.grouped = nn.Conv2d(4, 8, 1, groups=2)
        self.ln2d = LayerNorm2d(4)
        self.rms = MyRMSNorm(4)
        self.attn = nn.MultiheadAttention(4, 2)
        self.gpt = Conv1D()
        self.gamma = nn.Parameter(torch.ones(4))  # a parameter of the root module itself
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # tied: one tensor, two names, two owners


@pytest.fixture(scope="module")
def listed() -> dict[str, Any]:
    return dict(lrspec.get_target("torch").parameters(Net()))


def test_every_name_with_its_shape(listed: dict[str, Any]) -> None:
    net = Net()
    assert list(listed) == [n for n, _ in net.named_parameters(remove_duplicate=False)]
    for n, p in net.named_parameters(remove_duplicate=False):
        assert isinstance(listed[n], ParamMeta) and listed[n].shape == tuple(p.shape), n


@pytest.mark.parametrize(
    ("name", "type_", "roles"),
    [
        ("embed.weight", "Embedding", {"embedding"}),
        ("head.weight", "Linear", {"linear"}),
        ("stem.weight", "Conv2d", {"conv"}),
        ("bn.weight", "BatchNorm2d", {"norm"}),
        ("dw.weight", "Conv2d", {"conv", "depthwise_conv"}),
        ("grouped.weight", "Conv2d", {"conv"}),  # groups 2 != in_channels 4
        ("ln2d.bias", "LayerNorm2d", {"norm"}),
        ("rms.weight", "MyRMSNorm", {"norm"}),
        ("attn.in_proj_weight", "MultiheadAttention", set()),
        ("attn.out_proj.weight", "NonDynamicallyQuantizableLinear", {"linear"}),
        ("gpt.weight", "Conv1D", {"linear"}),
        ("gamma", "Net", set()),
    ],
)
def test_owning_module_and_roles(listed: dict[str, Any], name: str, type_: str, roles: set[str]) -> None:
    info = listed[name].module
    assert isinstance(info, ModuleInfo)
    assert info.type == type_ and info.roles == frozenset(roles)
    assert info.classes[0] == type_ and info.classes[-1] == "Module" and "object" not in info.classes


def test_classes_are_the_mro(listed: dict[str, Any]) -> None:
    assert listed["ln2d.weight"].module.classes == ("LayerNorm2d", "LayerNorm", "Module")
    assert listed["bn.weight"].module.classes[:3] == ("BatchNorm2d", "_BatchNorm", "_NormBase")


def test_named_pairs_have_shapes_only() -> None:
    w = nn.Parameter(torch.zeros(2, 3))
    assert lrspec.get_target("torch").parameters([("w", w)]) == {"w": (2, 3)}


def test_module_selectors_reach_compile() -> None:
    """The ``modules`` selector sees the torch module info: norms (any kind) get no decay."""
    spec = {
        "version": 1,
        "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.1},
        "groups": [
            {"name": "norms", "params": ["*"], "modules": ["norm"], "weight_decay": 0},
            {"name": "dw", "params": ["*"], "modules": ["class:Conv2d"], "lr_mult": 0.5},
        ],
    }
    compiled = lrspec.compile(spec, Net(), target="torch")
    groups = {g.name: set(g.params) for g in compiled.plan.groups}
    assert groups["norms"] == {"bn.weight", "bn.bias", "ln2d.weight", "ln2d.bias", "rms.weight"}
    assert groups["dw"] == {f"{m}.{p}" for m in ("stem", "dw", "grouped") for p in ("weight", "bias")}
