"""The ndim and modules selectors (issues 14, 15), parameter metadata (ParamMeta, ModuleInfo)
and parameter files with module info."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import lrspec
from lrspec import ROLES, ModuleInfo, ParamMeta
from lrspec.errors import ParamFileError
from lrspec.tools.paramfile import params_json, read_params

LINEAR = ModuleInfo("Linear", ("Linear", "Module"), frozenset({"linear"}))
BN = ModuleInfo("BatchNorm2d", ("BatchNorm2d", "_BatchNorm", "_NormBase", "Module"), frozenset({"norm"}))
LN2D = ModuleInfo("LayerNorm2d", ("LayerNorm2d", "LayerNorm", "Module"), frozenset({"norm"}))
DW = ModuleInfo("Conv2d", ("Conv2d", "_ConvNd", "Module"), frozenset({"conv", "depthwise_conv"}))
EMB = ModuleInfo("Embedding", ("Embedding", "Module"), frozenset({"embedding"}))

META = {
    "embed.weight": ParamMeta((10, 4), EMB),
    "dw.weight": ParamMeta((4, 1, 3, 3), DW),
    "bn.weight": ParamMeta((4,), BN),
    "bn.bias": ParamMeta((4,), BN),
    "ln.weight": ParamMeta((4,), LN2D),
    "fc.weight": ParamMeta((3, 4), LINEAR),
    "fc.bias": ParamMeta((3,), LINEAR),
    "ls.gamma": ParamMeta((4,), ModuleInfo("LayerScale", ("LayerScale", "Module"))),
}


def spec(*groups: dict[str, Any]) -> lrspec.Spec:
    return lrspec.validate(
        {"version": 1, "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05}, "groups": list(groups)}
    )


def wd(plan: lrspec.Plan) -> dict[str, float]:
    return {n: plan.group_of(n).weight_decay for n in plan.names}


def test_roles_are_the_contracts() -> None:
    assert ROLES == ("norm", "conv", "depthwise_conv", "linear", "embedding")


# ------------------------------------------------------------------ ndim


def test_ndim_selects_by_number_of_dimensions() -> None:
    s = spec({"name": "no_decay", "params": ["*"], "ndim": [0, 1], "weight_decay": 0})
    plan = lrspec.resolve(s, {n: m.shape for n, m in META.items()})
    expected = {n: 0.0 if len(m.shape or ()) <= 1 else 0.05 for n, m in META.items()}
    assert wd(plan) == expected
    assert wd(plan)["ls.gamma"] == 0.0  # a 1-D layer scale no name rule like *.bias / *norm* catches
    assert plan.param("ls.gamma").matched == ("no_decay",)


def test_ndim_int_and_name_together() -> None:
    s = spec({"name": "mats", "params": ["fc.*", "embed.*"], "ndim": 2, "lr": 0.1})
    plan = lrspec.resolve(s, {n: m.shape for n, m in META.items()})
    assert {n for n in plan.names if plan.group_of(n).lr == 0.1} == {"fc.weight", "embed.weight"}


def test_ndim_without_shapes_is_a_resolve_error() -> None:
    s = spec({"name": "no_decay", "params": ["*"], "ndim": [0, 1], "weight_decay": 0})
    with pytest.raises(
        lrspec.ResolveError,
        match=r"group\(s\) 'no_decay' select by ndim, but the parameter list has no shapes for a, b",
    ):
        lrspec.resolve(s, ["a", "b"])
    with pytest.raises(lrspec.ResolveError, match="no shapes for b;"):
        lrspec.resolve(s, {"a": (2,), "b": None})


def test_a_pattern_matching_names_but_no_listed_ndim_is_an_error_unless_optional() -> None:
    group = {"name": "vec", "params": ["fc.weight"], "ndim": 1, "weight_decay": 0}
    with pytest.raises(
        lrspec.ResolveError, match=r"pattern 'fc.weight' matches 1 parameter\(s\) \(fc.weight\) but none with ndim 1"
    ):
        lrspec.resolve(spec(group), META)
    plan = lrspec.resolve(spec({**group, "optional": True}), META)
    assert plan.param("fc.weight").matched == ()


@pytest.mark.parametrize(
    ("ndim", "fragment"), [([], "at least 1 item"), (-1, "must be >= 0"), (True, "ndim must be an integer")]
)
def test_bad_ndim_is_a_spec_error(ndim: Any, fragment: str) -> None:
    with pytest.raises(lrspec.SpecError) as info:
        spec({"name": "g", "params": ["*"], "ndim": ndim})
    assert info.value.problems[0].location.startswith("groups[0].ndim") and fragment in str(info.value)


# ------------------------------------------------------------------ modules


def test_modules_by_role() -> None:
    s = spec({"name": "norms", "params": ["*"], "modules": ["norm"], "decay_mult": 0})
    assert {n for n, w in wd(lrspec.resolve(s, META)).items() if w == 0} == {"bn.weight", "bn.bias", "ln.weight"}
    s = spec({"name": "dw", "params": ["*"], "modules": ["depthwise_conv", "embedding"], "lr_mult": 0.5})
    plan = lrspec.resolve(s, META)
    assert {n for n in plan.names if plan.group_of(n).lr == 0.5e-3} == {"dw.weight", "embed.weight"}


def test_modules_by_class_name_anywhere_in_the_mro() -> None:
    s = spec({"name": "bn", "params": ["*"], "modules": ["class:_NormBase"], "decay_mult": 0})
    assert {n for n, w in wd(lrspec.resolve(s, META)).items() if w == 0} == {"bn.weight", "bn.bias"}
    s = spec({"name": "ln", "params": ["*"], "modules": ["class:LayerNorm", "class:LayerScale"], "decay_mult": 0})
    assert {n for n, w in wd(lrspec.resolve(s, META)).items() if w == 0} == {"ln.weight", "ls.gamma"}


def test_modules_and_ndim_and_names_all_apply() -> None:
    s = spec({"name": "g", "params": ["*.weight"], "modules": ["norm", "linear"], "ndim": 1, "lr": 0.2})
    plan = lrspec.resolve(s, META)
    assert {n for n in plan.names if plan.group_of(n).lr == 0.2} == {"bn.weight", "ln.weight"}
    assert plan.param("bn.weight").module == BN and plan.param("bn.weight").shape == (4,)


def test_modules_without_module_info_is_a_resolve_error() -> None:
    s = spec({"name": "norms", "params": ["*"], "modules": ["norm"], "decay_mult": 0})
    with pytest.raises(
        lrspec.ResolveError, match=r"'norms' select by modules, but the parameter list has no module info for a"
    ):
        lrspec.resolve(s, {"a": (3,)})
    partly = {**META, "extra": (2,)}
    with pytest.raises(lrspec.ResolveError, match="no module info for extra;"):
        lrspec.resolve(s, partly)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            "nrom",
            "unknown module role 'nrom' (did you mean 'norm'?); the roles are: norm, conv, depthwise_conv, linear, embedding",
        ),
        ("class:", "write class:<ClassName>"),
        ("", "at least 1 character"),
    ],
)
def test_bad_module_selector_is_a_spec_error(entry: str, fragment: str) -> None:
    with pytest.raises(lrspec.SpecError) as info:
        spec({"name": "g", "params": ["*"], "modules": [entry]})
    assert [p.location for p in info.value.problems] == ["groups[0].modules[0]"] and fragment in str(info.value)


def test_module_info_and_param_meta_checks() -> None:
    info = ModuleInfo("BatchNorm2d", ["_NormBase"], ["norm"])  # type: ignore[arg-type]
    assert info.classes == ("BatchNorm2d", "_NormBase") and info.roles == frozenset({"norm"})
    with pytest.raises(ValueError, match="unknown module role"):
        ModuleInfo("X", (), frozenset({"normalization"}))
    with pytest.raises(ValueError, match="non-empty class name"):
        ModuleInfo("", ())
    assert ModuleInfo.from_dict(info.to_dict()) == info
    with pytest.raises(lrspec.ResolveError, match="invalid module info for 'a'"):
        lrspec.resolve(spec(), {"a": ParamMeta((2,), "BatchNorm2d")})  # type: ignore[arg-type]
    with pytest.raises(lrspec.ResolveError, match="invalid shape for 'a'"):
        lrspec.resolve(spec(), {"a": ParamMeta((2.5,))})  # type: ignore[arg-type]


def test_plans_without_module_info_have_none() -> None:
    plan = lrspec.resolve(spec(), {"a": (2,)})
    assert plan.param("a").module is None


# ------------------------------------------------------------------ parameter files


def test_param_file_json_with_module_info_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    data = {**META, "plain": (2, 2), "unknown": None}
    path.write_text(params_json(data), encoding="utf-8")
    assert read_params(path) == data
    items = json.loads(path.read_text(encoding="utf-8"))
    assert items[2] == {"name": "bn.weight", "shape": [4], "module": BN.to_dict()}
    s = spec({"name": "norms", "params": ["*"], "modules": ["norm"], "decay_mult": 0, "optional": True})
    with pytest.raises(lrspec.ResolveError, match="no module info for plain, unknown"):
        lrspec.resolve(s, read_params(path))


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        ([{"name": "a", "module": {"type": "X", "roles": ["nrom"]}}], "unknown module role(s) nrom"),
        ([{"name": "a", "module": {"classes": ["X"]}}], "module info must be"),
        ([{"name": "a", "shape": [2.5]}], "list of non-negative integers"),
        ([{"name": "a", "size": [2]}], "unknown key(s) size"),
        ([{"name": "a"}, {"name": "a"}], "listed twice"),
    ],
)
def test_param_file_json_entry_errors(tmp_path: Path, items: list[Any], fragment: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    with pytest.raises(ParamFileError) as info:
        read_params(path)
    assert fragment in str(info.value)


def test_text_param_file_shapes_feed_ndim(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("fc.weight [3, 4]\nfc.bias [3]\nscale []\n", encoding="utf-8")
    s = spec({"name": "no_decay", "params": ["*"], "ndim": [0, 1], "weight_decay": 0})
    assert wd(lrspec.resolve(s, read_params(path))) == {"fc.weight": 0.05, "fc.bias": 0.0, "scale": 0.0}
