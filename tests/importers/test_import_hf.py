"""lrspec.importers.from_hf against HF's Trainer.create_optimizer_and_scheduler on a tiny BERT
(built from a config: no download)."""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from _importers_harness import run_side_by_side  # noqa: E402
from transformers import BertForSequenceClassification  # noqa: E402, F401  (before any torchvision shim)

from lrspec.importers import RecipeError, import_hf  # noqa: E402
from lrspec.importers.hf import TRAINING_DEFAULTS  # noqa: E402


def bert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=24, max_position_embeddings=16, num_labels=3)
    return transformers.BertForSequenceClassification(config)


def hf_tool(args: dict, tmp_path, total: int):
    def build(model):
        targs = transformers.TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, **args)
        trainer = transformers.Trainer(model=model, args=targs)
        trainer.create_optimizer_and_scheduler(num_training_steps=total)
        return trainer.optimizer, lambda k: trainer.lr_scheduler.step()

    return build


CASES = {
    "adamw_linear_warmup": ({"learning_rate": 1e-3, "weight_decay": 0.01, "warmup_steps": 3, "max_steps": 10,
                             "adam_beta2": 0.98, "optim": "adamw_torch"}, None),
    "adamw_cosine_ratio_epochs": ({"learning_rate": 2e-3, "weight_decay": 0.1, "lr_scheduler_type": "cosine",
                                   "warmup_steps": 0.2, "num_train_epochs": 2, "optim": "adamw_torch"}, 5),
    "frozen_embeddings_constant": ({"learning_rate": 1e-3, "weight_decay": 0.01, "lr_scheduler_type": "constant",
                                    "max_steps": 6, "optim": "adamw_torch"}, None),
    "sgd_polynomial": ({"learning_rate": 0.1, "weight_decay": 1e-4, "lr_scheduler_type": "polynomial",
                        "lr_scheduler_kwargs": {"power": 2.0, "lr_end": 1e-3}, "warmup_steps": 2, "max_steps": 10,
                        "optim": "sgd", "optim_args": "momentum=0.9,nesterov=True"}, None),
    "cosine_min_lr_constant_wd0": ({"learning_rate": 1e-3, "lr_scheduler_type": "cosine_with_min_lr",
                                    "lr_scheduler_kwargs": {"min_lr": 1e-4}, "warmup_steps": 2, "max_steps": 10,
                                    "optim": "adamw_torch"}, None),  # the default (fused) is slow on CPU
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hf_lrs_and_training_match(case: str, tmp_path) -> None:
    args, spe = CASES[case]
    model = bert()
    if case.startswith("frozen"):  # requires_grad=False: Trainer leaves them out; the spec freezes them
        for p in model.bert.embeddings.parameters():
            p.requires_grad_(False)
    imported = import_hf(args, model, steps_per_epoch=spe)
    total = args.get("max_steps") or int(args["num_train_epochs"] * spe)
    # HF cosine rises again after the last training step; lrspec holds: compare over the run
    run_side_by_side(model, hf_tool(args, tmp_path, total), imported.spec, steps=total + 1)


def test_hf_defaults_are_training_arguments_defaults() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(transformers.TrainingArguments)}
    for key, value in TRAINING_DEFAULTS.items():
        assert fields[key] == value, key


def test_hf_no_decay_rule_is_the_installed_trainers(tmp_path) -> None:
    model = bert()
    imported = import_hf({"weight_decay": 0.1, "max_steps": 4}, model)
    trainer = transformers.Trainer(model=model, args=transformers.TrainingArguments(
        output_dir=str(tmp_path), report_to=[], use_cpu=True))
    decay = set(trainer.get_decay_parameter_names(model))
    plan = __import__("lrspec").resolve(imported.spec, [n for n, _ in model.named_parameters()] and
                                        __import__("lrspec").get_target("torch").parameters(model))
    assert {n for n in plan.names if plan.group_of(n).weight_decay == 0.1} == decay


@pytest.mark.parametrize(
    ("args", "key"),
    [({"optim": "adafactor", "max_steps": 5}, "optim"),
     ({"lr_scheduler_type": "reduce_lr_on_plateau", "max_steps": 5}, "lr_scheduler_type"),
     ({"lr_scheduler_type": "cosine", "lr_scheduler_kwargs": {"num_cycles": 2}, "max_steps": 5},
      "lr_scheduler_kwargs.num_cycles"),
     ({}, "num_train_epochs")],
)
def test_hf_inexact_recipes_are_refused_naming_the_key(args: dict, key: str) -> None:
    with pytest.raises(RecipeError) as info:
        import_hf(args, bert())
    assert info.value.problems[0].location == key
