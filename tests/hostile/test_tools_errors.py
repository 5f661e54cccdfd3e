"""Class: unclear errors. No line names an exception class or repeats its *where*; corrupt
model files are called corrupt; ``--emit`` refuses what ``compile`` refuses; scalar
parameters verify."""

from __future__ import annotations

import os
import random
import re
import sys
from pathlib import Path

import pytest
from _tools_helpers import GOOD_PARAMS, GOOD_SPEC, run_cli

# seeded: parametrized ids must be the same in every pytest-xdist worker
_RANDOM = random.Random(20261201)

CLASS_PREFIX = re.compile(r"^Error: (\w+(Error|Exception)):", re.M)


def _repeated_where(line: str) -> bool:
    body = line.removeprefix("Error: ")
    head, sep, rest = body.partition(": ")
    return bool(sep) and rest.startswith(head + ": ")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spec.yaml").write_text(GOOD_SPEC)
    (tmp_path / "params.txt").write_text(GOOD_PARAMS)
    (tmp_path / "frozen.yaml").write_text("version: 1\noptimizer: {type: sgd}\nunmatched: freeze\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


FAILING = [
    "plot spec.yaml -o lr.png",  # matplotlib missing (monkeypatched below)
    "verify spec.yaml --params params.txt --targets ,",
    "compile spec.yaml --target tf-v1 --model params.txt --emit python",
    "compile frozen.yaml --target torch --model params.txt --emit python",
    "compile spec.yaml --target torch --model random.pt",
    "compile spec.yaml --target tf --model corrupt.keras",
    "explain spec.yaml --params missing.txt",
]


@pytest.mark.parametrize("command", FAILING)
def test_no_class_names_and_no_repeated_where(work: Path, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "random.pt").write_bytes(b"\x80" + os.urandom(4096))
    (work / "corrupt.keras").write_bytes(os.urandom(256))
    if command.startswith("plot"):
        monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run_cli(command)
    assert code in (1, 2) and err.startswith("Error: "), err
    assert not CLASS_PREFIX.search(err), err
    assert not any(_repeated_where(line) for line in err.splitlines()), err


def test_no_class_name_for_an_unlocated_error(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lrspec.errors import TargetError
    from lrspec.tools import plotting

    def fail(*args: object, **kwargs: object) -> object:
        raise TargetError("lrspec plot: something failed")

    monkeypatch.setattr(plotting, "spec_curves", fail)
    code, _, err = run_cli("plot spec.yaml")
    assert code == 1 and err == "Error: lrspec plot: something failed\n"


@pytest.mark.parametrize(
    "content", [b"\x80" + _RANDOM.randbytes(2048), _RANDOM.randbytes(2048), b"PK\x03\x04" + _RANDOM.randbytes(64), b""], ids=["pickle-opcode", "random", "zip-magic", "empty"]
)
def test_random_bytes_in_a_pt_are_not_called_pickled_objects(work: Path, content: bytes) -> None:
    pytest.importorskip("torch")
    (work / "random.pt").write_bytes(content)
    code, _, err = run_cli("compile spec.yaml --target torch --model random.pt")
    assert code == 1 and err.startswith("Error: random.pt: is not a PyTorch checkpoint"), err
    assert "pickled" not in err


@pytest.mark.parametrize("content", [_RANDOM.randbytes(512), b"PK\x05\x06" + b"\0" * 18, b""], ids=["random", "empty-zip", "empty"])
def test_a_corrupt_keras_file_is_not_file_not_found(work: Path, content: bytes) -> None:
    (work / "corrupt.keras").write_bytes(content)
    code, _, err = run_cli("compile spec.yaml --target tf --model corrupt.keras")
    assert code == 1 and err.startswith("Error: corrupt.keras: is not a valid .keras file"), err
    assert "not found" not in err.lower()


TIED = '''
import torch
class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(2, 2)
        self.b = torch.nn.Linear(2, 2)
        self.b.weight = self.a.weight
def make():
    return Tied()
'''


@pytest.mark.torch
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("groups:\n  - {name: a, params: ['a.*'], lr: 0.1}\n  - {name: b, params: ['b.*'], lr: 0.2}\n", "tied"),
        ("unmatched: freeze\n", "nothing to optimize"),
    ],
)
def test_emit_refuses_what_compile_refuses(work: Path, spec: str, expected: str) -> None:
    pytest.importorskip("torch")
    (work / "tiedmodel.py").write_text(TIED)
    (work / "s.yaml").write_text("version: 1\noptimizer: {type: sgd, lr: 0.1}\n" + spec)
    base = "compile s.yaml --target torch --model tiedmodel:make"
    code_c, _, err_c = run_cli(base)
    code_e, out_e, err_e = run_cli(base + " --emit python -o gen.py")
    assert code_c == 1 and code_e == 1, (err_c, err_e)
    assert expected in err_c.lower() and err_e == err_c
    assert not (work / "gen.py").exists() and out_e == ""


def test_emit_refuses_an_all_frozen_plan_from_a_file(work: Path) -> None:
    code, _, err = run_cli("compile frozen.yaml --target torch --model params.txt --emit python -o gen.py")
    assert code == 1 and err.startswith("Error: --target torch: every parameter is permanently frozen"), err
    assert not (work / "gen.py").exists()


@pytest.mark.torch
def test_verify_with_scalar_parameters(work: Path) -> None:
    pytest.importorskip("torch")
    (work / "scalars.txt").write_text("temperature []\nw 3\n")
    for family in ("sgd", "adam", "rmsprop", "adagrad"):
        (work / "f.yaml").write_text(f"version: 1\noptimizer: {{type: {family}, lr: 0.1}}\n")
        code, out, err = run_cli("verify f.yaml --params scalars.txt --targets torch --steps 3")
        assert code == 0, out + err
        assert "result: all 1 target(s) agree" in out


def test_synthetic_scalars_are_arrays() -> None:
    import numpy as np

    import lrspec
    from lrspec.tools.verify.inputs import synthetic_data

    plan = lrspec.resolve(lrspec.Spec.model_validate({"version": 1, "optimizer": {"type": "sgd"}}), {"s": ()})
    init, grads = synthetic_data(plan, {"s": ()}, 2, 0)
    assert isinstance(init["s"], np.ndarray) and init["s"].shape == () and init["s"].dtype == np.float32
    assert all(isinstance(g["s"], np.ndarray) and g["s"].shape == () for g in grads)
