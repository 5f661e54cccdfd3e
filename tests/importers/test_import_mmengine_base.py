"""MMEngine ``_base_`` inheritance (lrspec.importers.mmengine_config) against mmengine's own
``Config.fromfile``, and the constructs it refuses."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from lrspec.importers.mmengine_config import ConfigInheritanceError, read_mmengine_config

mmengine = pytest.importorskip("mmengine")

ROOT = Path(__file__).resolve().parents[2]


def cli(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, str]:
    pytest.importorskip("torch")  # --model examples.importers.models:detector builds a torch model
    from lrspec.tools.cli import run

    monkeypatch.chdir(ROOT)  # the --model module imports from the current directory
    out, err = io.StringIO(), io.StringIO()
    code = run(["import", *argv], out, err)
    return code, out.getvalue(), err.getvalue()

OPTIM = """\
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={'backbone': dict(lr_mult=0.1), 'head': dict(lr_mult=2.0, decay_mult=0.5)}))
"""
SCHEDULE = """\
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12)
"""
MID = """\
_base_ = ['./optim.py', './schedule.py']
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=5.0)}))
"""
CHILD = """\
_base_ = './configs/mid.py'
optim_wrapper = dict(
    optimizer=dict(lr=1e-4),
    clip_grad=dict(_delete_=True, max_norm=35, norm_type=2),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.01), 'neck': dict(decay_mult=0.0)}))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=12, T_max=12)]
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def test_two_level_inheritance_matches_mmengine(tmp_path: Path) -> None:
    _write(tmp_path, {"configs/optim.py": OPTIM, "configs/schedule.py": SCHEDULE, "configs/mid.py": MID,
                      "child.py": CHILD})
    ours = read_mmengine_config(str(tmp_path / "child.py"))
    theirs = mmengine.Config.fromfile(str(tmp_path / "child.py")).to_dict()
    for key in ("optim_wrapper", "param_scheduler", "train_cfg"):
        assert _plain(ours[key]) == _plain(theirs[key]), key
    assert ours["optim_wrapper"]["optimizer"]["lr"] == 1e-4
    assert ours["optim_wrapper"]["clip_grad"] == {"max_norm": 35, "norm_type": 2}
    assert ours["optim_wrapper"]["paramwise_cfg"]["custom_keys"] == {
        "backbone": {"lr_mult": 0.01}, "head": {"lr_mult": 5.0, "decay_mult": 0.5}, "neck": {"decay_mult": 0.0}}


def test_yaml_and_json_bases_match_mmengine(tmp_path: Path) -> None:
    _write(tmp_path, {
        "optim.json": '{"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9}}}',
        "sched.yaml": "param_scheduler:\n- type: StepLR\n  step_size: 3\n",
        "cfg.yaml": "_base_: [optim.json, sched.yaml]\noptim_wrapper:\n  optimizer:\n    lr: 0.02\n",
    })
    ours = read_mmengine_config(str(tmp_path / "cfg.yaml"))
    theirs = mmengine.Config.fromfile(str(tmp_path / "cfg.yaml")).to_dict()
    for key in ("optim_wrapper", "param_scheduler"):
        assert _plain(ours[key]) == _plain(theirs[key]), key


def test_the_cli_imports_an_inheriting_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"base.py": "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))\n",
                      "cfg.py": "_base_ = ['./base.py']\noptim_wrapper = dict(optimizer=dict(lr=0.05))\n"})
    code, out, err = cli(monkeypatch, "mmengine", str(tmp_path / "cfg.py"), "--model", "examples.importers.models:detector")
    assert code == 0, err
    assert "0.05" in out


@pytest.mark.parametrize(
    ("files", "at", "message"),
    [
        ({"cfg.py": "_base_ = ['./missing.py']\n"}, "missing.py", "no such config file"),
        ({"cfg.py": "_base_ = './a.py'\n", "a.py": "_base_ = './cfg.py'\n"}, "cfg.py", "cycle"),
        ({"cfg.py": "_base_ = './cfg.py'\n"}, "cfg.py", "cycle"),
        ({"cfg.py": "_base_ = ['./a.py', './b.py']\n", "a.py": "x = 1\n", "b.py": "x = 2\n"},
         "cfg.py", "Duplicate key"),
        ({"cfg.py": "_base_ = ['./a.py']\ny = '{{_base_.x}}'\n", "a.py": "x = 1\n"}, "cfg.py", "{{_base_.xxx}}"),
        ({"cfg.py": "_base_ = ['./a.py']\ny = _base_.x\n", "a.py": "x = 1\n"}, "cfg.py", "_base_.x"),
        ({"cfg.py": "from mmengine.config import read_base\nwith read_base():\n    from .a import *\n"},
         "cfg.py", "read_base"),
        ({"cfg.py": "_base_ = ['mmdet::_base_/default_runtime.py']\n"}, "cfg.py", "package::path"),
        ({"cfg.py": "_base_ = ['./a.py']\nx = dict(a=1)\n", "a.py": "x = 3\n"}, "cfg.py", "_delete_=True"),
    ],
)
def test_refusals_name_the_file_and_the_construct(tmp_path: Path, files: dict[str, str], at: str,
                                                  message: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(ConfigInheritanceError) as info:
        read_mmengine_config(str(tmp_path / "cfg.py"))
    assert info.value.where.endswith(at) and message in info.value.what, (info.value.where, info.value.what)


def test_a_cli_refusal_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"cfg.py": "_base_ = ['./missing.py']\noptim_wrapper = dict(optimizer=dict(type='SGD'))\n"})
    code, _, err = cli(monkeypatch, "mmengine", str(tmp_path / "cfg.py"), "--model", "examples.importers.models:detector")
    assert code == 1 and "missing.py" in err and err.count("\n") == 1
