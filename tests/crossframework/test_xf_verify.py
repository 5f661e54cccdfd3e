"""``lrspec.tools.verify``: agreement on every example, and deliberately wrong mappings caught."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

import lrspec
import lrspec.targets
from lrspec.tools.verify import VerifyReport, format_report, verify

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))
ADAM = {"version": 1, "optimizer": {"type": "adam", "lr": 1e-3}}
PARAMS = {"enc.weight": (8, 6), "enc.bias": (8,), "head.weight": (3, 8)}


def _installed() -> list[str]:
    return [t.name for t in lrspec.available_targets() if t.installed]


def _check_table(report: VerifyReport) -> str:
    text = format_report(report)
    assert all(len(line) <= 100 for line in text.splitlines()), text
    json.dumps(report.to_dict())  # plain data
    return text


@pytest.mark.parametrize("example", EXAMPLES)
def test_verify_agrees_on_every_example(example: str, xf_record: object) -> None:
    targets = _installed()
    if not targets:
        pytest.skip("no lrspec target installed")
    params = ROOT / "examples" / "params" / f"{example}.txt"
    report = verify(ROOT / "examples" / f"{example}.yaml", params, steps=50)
    text = _check_table(report)
    print(text)
    assert report.ok, text
    assert [r.target for r in report.targets] == targets
    for r in report.targets:
        assert r.status == "ok", text
        assert {g.group for g in r.groups} == {g.name for g in report.plan.groups}
        for g in r.groups:
            # verdict: abs <= 1e-4 * moved + float32 floor at every update; the raw ratio
            # can exceed 1e-4 only in the first updates of a warmup, where moved is tiny
            assert g.ok and g.max_rel <= 1e-3, text
            # the comparison is not vacuous: every trainable group moved
            assert g.frozen or g.max_moved > 0, text
            if g.frozen:
                assert g.max_abs == 0.0
    worst = max((g.max_rel for r in report.targets for g in r.groups), default=0.0)
    assert callable(xf_record)
    xf_record(f"verify {example:<32} {', '.join(targets)}: ok, worst rel {worst:.1e}")


def test_verify_report_data_and_text() -> None:
    if "torch" not in _installed():
        pytest.skip("needs the torch target")
    report = lrspec.verify(ADAM, PARAMS, targets="torch", steps=5)
    data = report.to_dict()
    assert data["ok"] is True and data["steps"] == 5 and data["family"] == "adam"
    (t,) = data["targets"]
    assert t["target"] == "torch" and t["status"] == "ok"
    assert [g["group"] for g in t["groups"]] == ["default"]
    assert t["groups"][0]["params"] == 3 and t["groups"][0]["first_step"] is None
    text = _check_table(report)
    assert "torch" in text and "agree" in text


def test_verify_unknown_target_is_an_error() -> None:
    with pytest.raises(lrspec.TargetError, match="unknown target"):
        verify(ADAM, PARAMS, targets=["nope"], steps=2)


def test_verify_reads_parameter_files_and_notes_missing_shapes(tmp_path: Path) -> None:
    if "torch" not in _installed():
        pytest.skip("needs the torch target")
    f = tmp_path / "params.txt"
    f.write_text("# a list\nenc.weight 8,6\nenc.bias\nhead.weight 3,8\n")
    report = verify(ADAM, f, targets=["torch"], steps=3)
    assert report.ok
    assert any("without a shape" in n for n in report.notes)
    assert report.plan.param("enc.bias").shape == (16,)


@pytest.fixture
def wrong_target(monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    ep = metadata.EntryPoint(
        name="keras-native-adam", value="xf_wrong_targets:KERAS_NATIVE_ADAM", group="lrspec.targets"
    )
    monkeypatch.setattr(lrspec.targets, "_entry_points", lambda: {"keras-native-adam": ep})
    return "keras-native-adam"


def test_verify_catches_keras_native_adam_epsilon(wrong_target: str) -> None:
    """Stock Keras Adam adds epsilon after the bias correction; with the tiny gradients verify
    feeds (down to 1e-6), its steps differ from torch's by far more than 1e-4."""
    targets = [wrong_target] + (["tf"] if "tf" in _installed() else [])
    report = verify(ADAM, PARAMS, targets=targets, steps=50)
    text = _check_table(report)
    wrong = report.result(wrong_target)
    assert not report.ok
    assert wrong.status == "diverged", text
    assert all(g.first_step is not None for g in wrong.groups), text
    assert max(g.max_rel for g in wrong.groups) > 1e-3, text
    assert "DIVERGED" in text and wrong_target in text.splitlines()[-1]
    if "tf" in targets:  # the real tf target, same spec, same gradients: exact
        assert report.result("tf").status == "ok", text


def test_verify_catches_gradient_scaling_with_adam() -> None:
    """strategy='gradient-scale' with Adam (forced with allow_inexact) ignores lr multipliers."""
    if "tf" not in _installed():
        pytest.skip("needs the tf target")
    spec = {**ADAM, "groups": [{"name": "enc", "params": ["enc.*"], "lr_mult": 0.01}]}
    with pytest.raises(lrspec.TargetError):
        lrspec.get_target("tf").compile(lrspec.resolve(lrspec.as_spec(spec), PARAMS), [], strategy="gradient-scale")
    report = verify(
        spec,
        PARAMS,
        targets=["tf"],
        steps=20,
        options={"tf": {"strategy": "gradient-scale", "allow_inexact": True}},
    )
    text = _check_table(report)
    res = report.result("tf")
    assert res.status == "diverged", text
    by_group = {g.group: g for g in res.groups}
    assert by_group["enc"].first_step == 0 and by_group["enc"].max_rel > 1.0, text
    assert "tf*" in text and "gradient-scale" in text
    good = verify(spec, PARAMS, targets=["tf"], steps=20)
    assert good.ok, format_report(good)


def test_a_target_without_a_driver_is_skipped_and_a_failing_driver_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = {
        name: metadata.EntryPoint(name=name, value=f"xf_wrong_targets:{attr}", group="lrspec.targets")
        for name, attr in [("no-driver", "NO_DRIVER"), ("broken-driver", "BROKEN_DRIVER")]
    }
    monkeypatch.setattr(lrspec.targets, "_entry_points", lambda: eps)
    real = ["torch"] if "torch" in _installed() else []
    report = verify(ADAM, PARAMS, targets=["no-driver", "broken-driver", *real], steps=3)
    text = _check_table(report)
    skipped, broken = report.result("no-driver"), report.result("broken-driver")
    assert skipped.status == "skipped" and skipped.ok, text
    assert skipped.message is not None and "defines no verify_driver" in skipped.message
    assert broken.status == "error" and not broken.ok, text
    assert broken.message == "RuntimeError: the framework exploded"
    assert not report.ok
    if real:
        assert report.result("torch").status == "ok", text


# -------------------------------------------------------------------------------------------
# float64 proof mode (dtype="float64", lrspec verify --dtype float64)
# -------------------------------------------------------------------------------------------

F64_EXAMPLES = ["finetune_cnn", "transformer_llrd", "gradual_unfreeze", "muon_adamw"]


@pytest.mark.slow
@pytest.mark.parametrize("example", F64_EXAMPLES)
def test_verify_float64_agrees_to_1e_10(example: str, xf_record: object) -> None:
    """In float64 every installed target equals the reference to 1e-10 of the distance moved
    (plus float64 storage rounding) at every update: the update rules are the same formulas,
    not merely close at float32 roundoff."""
    targets = _installed()
    if not targets:
        pytest.skip("no lrspec target installed")
    params = ROOT / "examples" / "params" / f"{example}.txt"
    report = verify(ROOT / "examples" / f"{example}.yaml", params, steps=50, dtype="float64")
    text = _check_table(report)
    assert report.dtype == "float64" and report.tolerance == 1e-10, text
    assert "float64" in text.splitlines()[0] and "2^-53" in text.splitlines()[1], text
    assert report.ok, text
    for r in report.targets:
        assert r.status == "ok", text
        for g in r.groups:
            assert g.ok and (g.frozen or g.max_moved > 0), text
    worst = max((g.max_rel for r in report.targets for g in r.groups), default=0.0)
    assert callable(xf_record)
    xf_record(f"verify --dtype float64 {example:<32} {', '.join(targets)}: ok, worst rel {worst:.1e}")


def test_verify_float64_report_data() -> None:
    if "torch" not in _installed():
        pytest.skip("needs the torch target")
    data = lrspec.verify(ADAM, PARAMS, targets="torch", steps=5, dtype="float64").to_dict()
    assert data["ok"] is True and data["dtype"] == "float64"
    assert data["tolerance"] == 1e-10 and data["rounding"] == 2.0**-53
    assert lrspec.verify(ADAM, PARAMS, targets="torch", steps=2).to_dict()["dtype"] == "float32"
    with pytest.raises(ValueError, match="dtype must be one of float32, float64"):
        verify(ADAM, PARAMS, targets="torch", steps=2, dtype="float16")


@pytest.fixture
def float32_inside(monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("torch")
    ep = metadata.EntryPoint(name="float32-inside", value="xf_wrong_targets:FLOAT32_INSIDE", group="lrspec.targets")
    monkeypatch.setattr(lrspec.targets, "_entry_points", lambda: {"float32-inside": ep})
    return "float32-inside"


def test_float64_mode_catches_float32_arithmetic(float32_inside: str) -> None:
    """A target that rounds to float32 inside passes the float32 check and fails the proof."""
    assert verify(ADAM, PARAMS, targets=[float32_inside], steps=10).ok
    report = verify(ADAM, PARAMS, targets=[float32_inside, "torch"], steps=10, dtype="float64")
    text = _check_table(report)
    wrong = report.result(float32_inside)
    assert wrong.status == "diverged" and all(g.first_step == 0 for g in wrong.groups), text
    assert 1e-10 < max(g.max_rel for g in wrong.groups) < 1e-4, text
    assert report.result("torch").status == "ok", text


def test_cli_verify_dtype_float64(tmp_path: Path) -> None:
    if "torch" not in _installed():
        pytest.skip("needs the torch target")
    import contextlib
    import io

    from lrspec.tools.cli import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(ADAM))
    params = tmp_path / "params.txt"
    params.write_text("".join(f"{n} {','.join(map(str, s))}\n" for n, s in PARAMS.items()))
    argv = ["verify", str(spec), "--params", str(params), "--steps", "5", "--targets", "torch", "--dtype", "float64"]
    code, out, err = run([*argv, "--format", "json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dtype"] == "float64" and doc["tolerance"] == 1e-10 and doc["ok"] is True
    code, out, err = run(argv)
    assert code == 0 and "float64" in out and "1e-10" in out, out + err
    code, out, err = run([*argv[:-1], "float16"])
    assert code == 2 and "float16" in err and "Traceback" not in err
