"""Smoke tests of the public surface; the detailed suites live beside this file."""

import subprocess
import sys

import lrspec


def test_import_lrspec_does_not_import_frameworks() -> None:
    code = "import sys, lrspec; print(any(m in sys.modules for m in ('torch', 'tensorflow', 'keras')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_resolve_minimal_spec() -> None:
    spec = lrspec.Spec.model_validate(
        {
            "version": 1,
            "optimizer": {"type": "sgd", "lr": 0.1},
            "groups": [{"name": "head", "params": ["head.*"], "lr_mult": 0.5}],
        }
    )
    plan = lrspec.resolve(spec, ["body.weight", "head.weight"])
    assert plan.lr("head.weight", 0) == 0.1 * 0.5
    assert plan.lr("body.weight", 0) == 0.1
