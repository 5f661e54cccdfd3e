"""Every example spec is valid (models and checked-in JSON Schema), resolves against its
parameter lists (PyTorch and Keras names) and gives the learning rates its recipe promises."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import lrspec
from lrspec.spec.loader import parse_text
from lrspec.tools.paramfile import read_params as load_params

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCHEMA = json.loads((ROOT / "schemas" / "lrspec-v1.schema.json").read_text(encoding="utf-8"))
SPECS = sorted(EXAMPLES.glob("*.yaml"))
HEADER = "# yaml-language-server: $schema=../schemas/lrspec-v1.schema.json"


def param_files(spec: Path) -> list[Path]:
    files = sorted((EXAMPLES / "params").glob(f"{spec.stem}.*"))
    return [f for f in files if f.name.split(".")[0] == spec.stem]


def test_the_recipes_exist() -> None:
    names = {p.stem for p in SPECS}
    assert names >= {
        "finetune_cnn",
        "pretrained_convnet_sgd",
        "pretrained_convnet_momentum",
        "exponential_decay",
        "exponential_decay_smooth",
        "lenet_features_classifier",
        "retrain_last_layer",
        "retrain_last_two_layers",
    }
    for stem in ("finetune_cnn", "pretrained_convnet_sgd", "lenet_features_classifier", "retrain_last_layer"):
        # the same spec serves PyTorch and Keras names
        assert len(param_files(EXAMPLES / f"{stem}.yaml")) == 2, stem


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_example_is_valid_everywhere(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER + "\n")
    assert text.splitlines()[1].startswith("# "), "the second line explains the recipe"
    lrspec.load(path)
    data, _ = parse_text(text)  # lrspec's YAML reading (1e-5 is a float)
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)
    files = param_files(path)
    assert files, f"no parameter list examples/params/{path.stem}.txt"
    spec = lrspec.load(path)
    for f in files:
        plan = lrspec.resolve(spec, load_params(f))
        assert sorted(n for g in plan.groups for n in g.params) == sorted(load_params(f))


def plans(stem: str) -> list[lrspec.Plan]:
    spec = lrspec.load(EXAMPLES / f"{stem}.yaml")
    return [lrspec.resolve(spec, load_params(f)) for f in param_files(EXAMPLES / f"{stem}.yaml")]


def test_finetune_cnn() -> None:
    for plan in plans("finetune_cnn"):
        assert len(plan.groups) == 2
        for name in plan.names:
            expected = 1e-5 if name.startswith("conv") else 1e-3
            assert plan.lr(name, 0) == expected
            assert plan.lr(name, 1000) == expected
        assert plan.family == "adam"
        assert [g.sources for g in plan.groups] == [("conv",), ("dense",)]


@pytest.mark.parametrize("stem", ["pretrained_convnet_sgd", "pretrained_convnet_momentum"])
def test_pretrained_convnet(stem: str) -> None:
    momentum = 0.9 if stem.endswith("momentum") else 0.0
    for plan in plans(stem):
        conv = [n for n in plan.names if n.startswith("conv")]
        assert {n.split(".")[0] for n in conv} == {"conv1", "conv2", "conv3", "conv4", "conv5"}
        assert all(plan.lr(n, 0) == 1e-5 for n in conv)
        assert plan.lr("fc6.bias", 0) == 1e-3
        assert len(plan.groups) == 2 and plan.family == "sgd"
        assert all(g.hyperparameters["momentum"] == momentum for g in plan.groups)


@pytest.mark.parametrize(("stem", "staircase"), [("exponential_decay", True), ("exponential_decay_smooth", False)])
def test_exponential_decay(stem: str, staircase: bool) -> None:
    for plan in plans(stem):
        assert len(plan.groups) == 1
        for t in (0, 1, 15, 16, 17, 31, 32, 100, 1600):
            exponent = t // 16 if staircase else t / 16
            assert plan.lr("fc1.bias", t) == pytest.approx(0.01 * 0.96**exponent, rel=1e-12)
        if staircase:
            assert plan.lr("fc1.bias", 15) == pytest.approx(0.01) and plan.lr("fc1.bias", 16) == pytest.approx(0.0096)


def test_lenet_features_classifier() -> None:
    for plan in plans("lenet_features_classifier"):
        assert [g.sources for g in plan.groups] == [("features",), ("classifier",)]
        for name in plan.names:
            assert plan.lr(name, 0) == (1e-5 if name.startswith("features.") else 1e-4)


def test_retrain_last_layer() -> None:
    for plan in plans("retrain_last_layer"):
        trainable = [n for g in plan.trainable_groups for n in g.params]
        assert sorted(n.split(".")[0] for n in trainable) == ["fc2", "fc2"]
        assert len(plan.frozen_params) == 6
        assert all(plan.lr(n, 0) == 0.0 for n in plan.frozen_params)
        assert plan.lr(trainable[0], 0) == 0.01


def test_retrain_last_two_layers() -> None:
    for plan in plans("retrain_last_two_layers"):
        trainable = sorted(n.split(".")[0] for g in plan.trainable_groups for n in g.params)
        assert trainable == ["fc1", "fc1", "fc2", "fc2"]
        assert sorted(n.split(".")[0] for n in plan.frozen_params) == ["conv1", "conv1", "conv2", "conv2"]
