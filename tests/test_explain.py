"""Plan views (lrspec.tools.explain, lrspec.tools.render) and `explain` on every bundled example."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import lrspec
from lrspec.tools.explain import param_rows, plan_json, plan_table, spec_json, spec_table
from lrspec.tools.paramfile import read_params
from lrspec.tools.render import render_table

ROOT = Path(__file__).resolve().parents[1]

SPEC = {
    "version": 1,
    "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01},
    "schedule": {"type": "step", "step_size": 10, "gamma": 0.5},
    "groups": [
        {"name": "body", "params": ["body.*"], "lr_mult": 0.5},
        {"name": "nodecay", "params": ["*.bias"], "weight_decay": 0.0},
        {"name": "stem", "params": ["body.0.*"], "freeze": {"until_step": 3}},
        {"name": "head", "params": ["head.*"], "momentum": 0.0, "schedule": {"type": "constant"}},
    ],
}
PARAMS = {"body.0.weight": (4, 3), "body.0.bias": (4,), "body.1.weight": (2, 4), "head.weight": (1, 2), "head.bias": (1,)}


def _plan() -> lrspec.Plan:
    return lrspec.resolve(lrspec.Spec.model_validate(SPEC), PARAMS)


def test_render_table_aligns_and_fits() -> None:
    text = render_table(["a", "num"], [["x", "1"], ["long-name", "100"]], align=["l", "r"])
    assert text.splitlines() == ["a          num", "---------  ---", "x            1", "long-name  100"]
    wide = render_table(["k", "v"], [["key", "word " * 60]], width=40)
    assert all(len(line) <= 40 for line in wide.splitlines())
    assert " ".join(wide.split()).count("word") == 60  # wrapped, nothing lost


def test_plan_table_exact() -> None:
    # lrs: body = 0.1 * 0.5 = 0.05; head = 0.1; the stem is frozen for t < 3 (lr@0 = 0);
    # nodecay sets wd 0, head sets momentum 0. The parameter table is 101 columns wide with
    # a schedule column, so the schedule is only in the groups table.
    expected = """\
optimizer: sgd  lr=0.1  weight_decay=0.01  momentum=0.9  dampening=0  nesterov=false

parameters (5)
parameter      shape  matched              lr@0    wd  frozen   group
-------------  -----  -------------------  ----  ----  -------  -----------------
body.0.weight  4x3    body, stem              0  0.01  until 3  body+stem
body.0.bias    4      body, nodecay, stem     0     0  until 3  body+nodecay+stem
body.1.weight  2x4    body                 0.05  0.01  no       body
head.weight    1x2    head                  0.1  0.01  no       head
head.bias      1      nodecay, head         0.1     0  no       nodecay+head

groups (5; optimizer groups: the 5 not frozen for good)
group              params    lr  lr@0    wd  frozen   schedule            other
-----------------  ------  ----  ----  ----  -------  ------------------  ----------
body+stem               1  0.05     0  0.01  until 3  step(0.5 every 10)  -
body+nodecay+stem       1  0.05     0     0  until 3  step(0.5 every 10)  -
body                    1  0.05  0.05  0.01  no       step(0.5 every 10)  -
head                    1   0.1   0.1  0.01  no       constant            momentum=0
nodecay+head            1   0.1   0.1     0  no       constant            momentum=0"""
    assert plan_table(_plan()) == expected
    rows = {r["name"]: r for r in param_rows(_plan())}
    assert rows["body.1.weight"]["lr_at_0"] == 0.1 * 0.5
    assert rows["body.0.weight"]["lr_at_0"] == 0.0 and rows["body.0.weight"]["frozen_until"] == 3
    assert rows["head.bias"]["weight_decay"] == 0.0 and rows["head.weight"]["weight_decay"] == 0.01


def test_schedule_column_when_it_fits() -> None:
    spec = lrspec.Spec.model_validate(
        {"version": 1, "optimizer": {"type": "adam"}, "groups": [{"name": "a", "params": ["a"], "schedule": {"type": "cosine", "decay_steps": 4}}]}
    )
    lines = plan_table(lrspec.resolve(spec, ["a", "b"])).splitlines()
    assert lines[2:7] == [
        "parameters (2)",
        "parameter  matched   lr@0  wd  frozen  group    schedule",
        "---------  -------  -----  --  ------  -------  ------------------",
        "a          a        0.001   0  no      a        cosine(T=4, min=0)",
        "b          -        0.001   0  no      default  constant",
    ]


def test_plan_table_is_deterministic_and_fits_100() -> None:
    assert plan_table(_plan()) == plan_table(_plan())
    assert max(len(line) for line in plan_table(_plan()).splitlines()) <= 100


def test_plan_json_document() -> None:
    doc = plan_json(_plan(), spec="s.yaml")
    assert doc["format"] == "lrspec.plan/1" and doc["spec"] == "s.yaml"
    assert list(doc) == ["format", "spec", "optimizer", "params", "groups", "optimizer_groups", "layers", "fingerprint"]
    assert [p["name"] for p in doc["params"]] == list(PARAMS)
    assert set(doc["params"][0]) == {
        "name", "shape", "group", "matched", "layer", "lr_at_0", "weight_decay", "frozen", "frozen_until", "schedule"
    }
    head = next(g for g in doc["groups"] if g["name"] == "head")
    assert head["lr"] == 0.1 and head["hyperparameters"]["momentum"] == 0.0
    assert head["schedule"] == {"type": "constant", "value": 1.0}
    assert sorted(n for g in doc["groups"] for n in g["params"]) == sorted(PARAMS)


def test_spec_views() -> None:
    spec = lrspec.Spec.model_validate(SPEC)
    table = spec_table(spec)
    assert "default schedule: step(0.5 every 10)" in table
    row = next(line for line in table.splitlines() if line.startswith("body "))
    assert "0.05 (lr_mult 0.5)" in row
    doc = spec_json(spec)
    assert [g["name"] for g in doc["groups"]] == ["body", "nodecay", "stem", "head"]
    assert doc["groups"][0]["lr"] == 0.05 and doc["groups"][1]["lr"] is None
    assert doc["groups"][2]["freeze"] == {"until_step": 3}
    assert doc["groups"][3]["hyperparameters"] == {"momentum": 0.0}


# ------------------------------------------------------------------ bundled examples


def _layer(name: str) -> str:
    """conv1.weight / conv1.kernel -> conv1; features.0.bias -> features; blocks.2.fc1.bias -> blocks.2"""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "blocks" else parts[0]


def _llrd(name: str) -> float:
    depth = {"embed": 0, "head": 5}.get(_layer(name)) if not name.startswith("blocks") else 1 + int(name.split(".")[1])
    assert depth is not None
    return 1e-3 * 0.75 ** (5 - depth)


def _vit_timm(name: str, depth: int = 2) -> float:
    """timm's layer decay on a ViT of ``depth`` blocks: embeddings 0, blocks.i 1+i, the final
    norm with the last block, the head one more; scale 0.65 ** (layer_max - layer)."""
    if name.startswith(("cls_token", "pos_embed", "patch_embed")):
        layer = 0
    elif name.startswith("blocks."):
        layer = 1 + int(name.split(".")[1])
    else:
        layer = depth if name.startswith("norm.") else depth + 1
    return 1e-3 * 0.65 ** (depth + 1 - layer)


# example -> (expected lr at update t for a parameter name, the update t to check)
EXPECTED = {
    "finetune_cnn": (lambda n, t: 1e-5 if n.startswith("conv") else 1e-3, 5),
    "exponential_decay": (lambda n, t: 0.01 * 0.96 ** (t // 16), 40),
    "exponential_decay_smooth": (lambda n, t: 0.01 * 0.96 ** (t / 16), 40),
    "lenet_features_classifier": (lambda n, t: 1e-5 if n.startswith("features") else 1e-4, 3),
    "pretrained_convnet_sgd": (lambda n, t: 1e-5 if n.startswith("conv") else 1e-3, 3),
    "pretrained_convnet_momentum": (lambda n, t: 1e-5 if n.startswith("conv") else 1e-3, 3),
    "retrain_last_layer": (lambda n, t: 0.01 if n.startswith("fc2") else 0.0, 3),
    "retrain_last_two_layers": (lambda n, t: 0.01 if n.startswith(("fc1", "fc2")) else 0.0, 3),
    "gradual_unfreeze": (lambda n, t: (1e-4 * 0.1 if t >= 20 else 0.0) if n.startswith("conv") else 1e-4, 25),
    "muon_adamw": (lambda n, t: 1e-3, 3),
    "vit_llrd_timm": (lambda n, t: _vit_timm(n), 3),
    "transformer_llrd": (lambda n, t: _llrd(n) * (0.5 * (1 + math.cos(math.pi * min(t - 10, 40) / 40)) if t >= 10 else t / 10), 25),
}


def _example_cases() -> list[tuple[str, Path]]:
    cases = []
    for f in sorted((ROOT / "examples" / "params").glob("*")):
        stem = re.sub(r"\.keras$", "", f.name.rsplit(".", 1)[0])
        cases.append((stem, f))
    return cases


@pytest.mark.parametrize(("stem", "params_file"), _example_cases(), ids=lambda x: getattr(x, "name", x))
def test_explain_bundled_example(stem: str, params_file: Path) -> None:
    from lrspec.tools.cli import main

    spec_file = ROOT / "examples" / f"{stem}.yaml"
    assert spec_file.exists(), f"no spec for {params_file.name}"
    params = read_params(params_file)
    plan = lrspec.resolve(lrspec.load(spec_file), params)
    assert sorted(plan.names) == sorted(params)
    assert stem in EXPECTED, f"add the expected lrs of example {stem} to EXPECTED"
    lr_of, t = EXPECTED[stem]
    for name in params:
        for step in (0, t):
            assert plan.lr(name, step) == pytest.approx(lr_of(name, step), rel=1e-12, abs=1e-15), (name, step)
    assert main(["explain", str(spec_file), "--params", str(params_file)]) == 0


def test_every_example_spec_has_a_params_file() -> None:
    stems = {s for s, _ in _example_cases()}
    specs = {f.stem for f in (ROOT / "examples").glob("*.yaml")}
    assert specs <= stems, f"examples without a params file: {sorted(specs - stems)}"


# ------------------------------------------------------------------ families per group (issue 14)

MIXED = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05},
    "groups": [{"name": "mats", "params": ["*"], "ndim": 2, "optimizer": {"type": "muon", "ns_steps": 3}}],
}


def test_mixed_families_show_a_family_column_and_line() -> None:
    plan = lrspec.resolve(lrspec.validate(MIXED), {"w": (3, 4), "b": (3,)})
    table = plan_table(plan)
    assert "families: muon (1 group), adamw (1 group)" in table
    header = next(line for line in table.splitlines() if line.startswith("group "))
    assert "family" in header.split()
    row = next(line for line in table.splitlines() if line.startswith("mats "))
    assert " muon " in row and "ns_steps=3" in row  # muon's differences from its torch defaults
    doc = plan_json(plan)
    assert doc["families"] == ["muon", "adamw"]
    assert [g["family"] for g in doc["groups"]] == ["muon", "adamw"]
    assert [p["family"] for p in doc["params"]] == ["muon", "adamw"]


def test_single_family_plans_show_no_family_column() -> None:
    plan = lrspec.resolve(lrspec.validate({**MIXED, "groups": []}), {"w": (3, 4)})
    table = plan_table(plan)
    assert "families:" not in table
    assert "family" not in next(ln for ln in table.splitlines() if ln.startswith("group "))
    doc = plan_json(plan)
    assert "families" not in doc and "family" not in doc["groups"][0] and "family" not in doc["params"][0]


def test_spec_table_shows_group_families_and_selectors() -> None:
    layers = ["a", ["b", "c"], {"params": ["n"], "join": "previous"}]
    table = spec_table(lrspec.validate({**MIXED, "layer_decay": {"rate": 0.5, "layers": layers, "unmatched": "last"}}))
    row = next(line for line in table.splitlines() if line.startswith("mats "))
    assert "* ndim=2" in row and "optimizer=muon ns_steps=3" in row
    assert "over layers a, [b c], (join) n; unmatched parameters form the last layer" in table
    doc = spec_json(lrspec.validate(MIXED))
    assert doc["groups"][0]["ndim"] == [2] and doc["groups"][0]["optimizer"]["type"] == "muon"
    assert "lr" not in doc["groups"][0]["optimizer"]
