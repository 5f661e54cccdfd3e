"""``lrspec import``: YAML with source comments that loads back to the library's spec, -o/--force,
and one clear error line for recipes that cannot be imported."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
# transformers' BERT before the torchvision shim timm needs (transformers probes torchvision itself)
pytest.importorskip("transformers")
from _importers_harness import torchvision_for_timm  # noqa: E402
from transformers import BertForSequenceClassification  # noqa: E402, F401

import lrspec  # noqa: E402
from lrspec.importers import import_mmengine  # noqa: E402
from lrspec.tools.cli import run  # noqa: E402
from lrspec.tools.cli.import_command import read_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "importers"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # --model examples.importers.models:... imports from the current directory


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["import", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_mmengine_example_writes_commented_yaml_equal_to_the_library(tmp_path: Path) -> None:
    target = tmp_path / "spec.yaml"
    args = ("mmengine", str(EX / "mmengine_config.py"), "--model", "examples.importers.models:detector",
            "--iters-per-epoch", "100", "-o", str(target))
    code, out, err = cli(*args)
    assert (code, out, err) == (0, "", "")
    text = target.read_text()
    assert "# from optim_wrapper.paramwise_cfg.custom_keys['head']" in text
    assert "# exact: every parameter" in text
    from examples.importers.models import detector

    want = import_mmengine(read_recipe("mmengine", str(EX / "mmengine_config.py")), detector(), iters_per_epoch=100)
    assert lrspec.load(target) == want.spec
    code, _, err = cli(*args)
    assert code == 1 and err == f"Error: {target}: the file exists; use --force to overwrite it\n"
    assert cli(*args, "--force")[0] == 0


@pytest.mark.parametrize(
    ("tool", "file", "model", "extra"),
    [("detectron2", "detectron2_config.yaml", "detector", ()), ("hf", "hf_training_args.json", "bert",
                                                                 ("--steps-per-epoch", "50")),
     ("timm", "timm_args.yaml", "vit", ("--steps-per-epoch", "5"))],
)
def test_every_example_recipe_imports_exactly(tool: str, file: str, model: str, extra: tuple[str, ...]) -> None:
    torchvision_for_timm()
    code, out, err = cli(tool, str(EX / file), "--model", f"examples.importers.models:{model}", *extra)
    assert code == 0, err
    assert "# exact:" in out and lrspec.load_text(out).version == 1


def test_a_recipe_that_cannot_be_imported_is_one_error_line(tmp_path: Path) -> None:
    recipe = tmp_path / "args.json"
    recipe.write_text(json.dumps({"lr_scheduler_type": "reduce_lr_on_plateau", "max_steps": 10}))
    code, out, err = cli("hf", str(recipe), "--model", "examples.importers.models:bert")
    assert code == 1 and out == ""
    assert err.startswith(f"Error: {recipe}: lr_scheduler_type: 'reduce_lr_on_plateau': cannot import exactly")
    assert err.count("\n") == 1


def test_mmengine_missing_base_file_is_one_error_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.py"
    cfg.write_text("_base_ = ['./base.py']\noptim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))\n")
    code, _, err = cli("mmengine", str(cfg), "--model", "examples.importers.models:detector")
    assert code == 1 and "base.py" in err and err.count("\n") == 1, err


def test_detectron2_base_files_are_merged(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("SOLVER:\n  BASE_LR: 0.5\n  MAX_ITER: 100\n  STEPS: [50]\n")
    (tmp_path / "cfg.yaml").write_text("_BASE_: base.yaml\nSOLVER:\n  MAX_ITER: 200\n")
    assert read_recipe("detectron2", str(tmp_path / "cfg.yaml")) == {"SOLVER": {"BASE_LR": 0.5, "MAX_ITER": 200,
                                                                                "STEPS": [50]}}


def test_the_wrong_epoch_option_is_a_usage_error() -> None:
    code, _, err = cli("timm", str(EX / "timm_args.yaml"), "--model", "examples.importers.models:vit",
                       "--iters-per-epoch", "5")
    assert code == 2 and "--steps-per-epoch" in err
