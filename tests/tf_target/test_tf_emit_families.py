"""``lrspec compile --emit python`` for the Keras targets (``keras`` and its alias ``tf``, both
emitted by ``lrspec_tf.emit``; ``tf-v1`` emits no code) with the families of issue 14 and a
family per group: the generated module, executed for real on float64 Keras variables, against
``lrspec.reference`` (<= 1e-12 relative to the displacement; muon with newton_schulz_dtype
float64, its exact math). The default newton_schulz_dtype is bfloat16, as torch's stock Muon and
the compiled tf-v1 target (the same inlined rules): checked bitwise against tf-v1 and within the
reference's bfloat16 definition of "equal"."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from lrspec_tf.v1 import CompiledV1

import lrspec
from lrspec import reference as R
from lrspec.reference.muon import adjust_lr
from lrspec.tools.cli import main
from lrspec.tools.emit import emit_python
from lrspec.tools.paramfile import read_params

ROOT = Path(__file__).resolve().parents[2]
STEPS = 8  # radam's rectified branch from update 6 on
SHAPES = {"enc.weight": (3, 4), "enc.bias": (4,), "head.scale": (), "conv.kernel": (2, 3, 4)}
SMALL = {"enc.weight": (3, 4), "enc.bias": (4,)}
SCHEDULE = {"type": "exponential", "decay_rate": 0.5, "decay_steps": 20}


def plan_of(optimizer: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], groups: Any = ()) -> lrspec.Plan:
    spec = {"version": 1, "optimizer": dict(optimizer), "schedule": SCHEDULE, "groups": list(groups)}
    return lrspec.resolve(lrspec.Spec.model_validate(spec), dict(shapes))


def load(source: str, name: str) -> types.ModuleType:
    """Execute a generated module as an import would (dataclasses look the module up)."""
    assert not re.search(r"^\s*(import|from)\s+lrspec", source, re.M), "the generated module must not import lrspec"
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def problem(shapes: Mapping[str, tuple[int, ...]], seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    init = {n: rng.normal(size=s) for n, s in shapes.items()}
    grads = [{n: rng.normal(size=s) for n, s in shapes.items()} for _ in range(STEPS)]
    return init, grads


def run_generated(
    module: types.ModuleType, init: Mapping[str, np.ndarray], grads: list[Any], **options: Any
) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """float64 Keras variables named by the plan (no layer tree: matched by variable.path)."""
    variables = [keras.Variable(value, dtype="float64", name=n) for n, value in init.items()]
    optimizer = module.build(types.SimpleNamespace(trainable_variables=variables), **options)
    out = []
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g[n]), v) for n, v in zip(init, variables)])
        out.append({n: v.numpy() for n, v in zip(init, variables)})
    return optimizer, out


def assert_matches_reference(plan: lrspec.Plan, init: Any, grads: Any, got: list[dict[str, np.ndarray]]) -> None:
    ref = R.simulate(plan, init, grads)
    for t, values in enumerate(got, start=1):
        for n, v in values.items():
            assert v.dtype == np.float64, n
            moved = float(np.max(np.abs(ref[t][n] - init[n])))
            if moved == 0.0:  # frozen so far
                np.testing.assert_array_equal(v, init[n], err_msg=f"update {t}, {n}")
                continue
            err = float(np.max(np.abs(v - ref[t][n]))) / moved
            assert err <= 1e-12, f"update {t}, {n}: {err:.3e}"


CASES: list[tuple[str, dict[str, Any], Mapping[str, tuple[int, ...]]]] = [
    ("nadam", {"type": "nadam", "lr": 0.02, "weight_decay": 0.05}, SMALL),
    (
        "nadam_decoupled",
        {"type": "nadam", "lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 0.01},
        SMALL,
    ),
    ("radam_decoupled", {"type": "radam", "lr": 0.02, "weight_decay": 0.1, "decoupled_weight_decay": True}, SMALL),
    ("radam", {"type": "radam", "lr": 0.02, "weight_decay": 0.05}, SMALL),
    ("adamax", {"type": "adamax", "lr": 0.02, "weight_decay": 0.05, "betas": [0.3, 0.99]}, SMALL),
    ("adadelta", {"type": "adadelta", "lr": 0.5, "weight_decay": 0.05}, SMALL),
    ("adafactor", {"type": "adafactor", "lr": 0.05, "weight_decay": 0.05}, SHAPES),  # 0-D to 3-D
    ("adafactor_eps1", {"type": "adafactor", "lr": 0.05, "eps": [1e-3, 1e-2], "d": 1.5}, SHAPES),
    ("muon", {"type": "muon", "lr": 0.05, "weight_decay": 0.1}, {"a.weight": (4, 6), "b.weight": (7, 3)}),
    (
        "muon_match_rms",
        {"type": "muon", "lr": 0.05, "adjust_lr_fn": "match_rms_adamw", "nesterov": False},
        {"a.weight": (4, 6)},
    ),
]


@pytest.mark.parametrize(("case", "optimizer", "shapes"), CASES, ids=[c for c, _, _ in CASES])
def test_emitted_family_matches_the_reference_float64(
    case: str, optimizer: dict[str, Any], shapes: Mapping[str, tuple[int, ...]]
) -> None:
    plan = plan_of(optimizer, shapes)
    module = load(emit_python(plan, "keras"), f"gen_{case}")
    init, grads = problem(shapes, seed=len(case))
    _, got = run_generated(module, init, grads, newton_schulz_dtype="float64")
    assert_matches_reference(plan, init, grads, got)


def test_emitted_family_per_group_slots_and_updates() -> None:
    """adafactor on top, nadam for ndim <= 1, muon for the 2-D enc.weight (frozen until update 3):
    each variable gets its group's family and torch's state (factored adafactor slots, nadam's
    float64 scalar mu_product)."""
    plan = plan_of(
        {"type": "adafactor", "lr": 0.05, "weight_decay": 0.05},
        SHAPES,
        [
            {"name": "vectors", "params": ["*"], "ndim": [0, 1], "optimizer": {"type": "nadam"}, "lr": 0.01},
            {
                "name": "matrices",
                "params": ["*"],
                "ndim": 2,
                "optimizer": {"type": "muon"},
                "lr": 0.02,
                "freeze": {"until_step": 3},
            },
        ],
    )
    assert {g.name: g.family for g in plan.groups} == {"default": "adafactor", "vectors": "nadam", "matrices": "muon"}
    module = load(emit_python(plan, "keras"), "gen_per_group")
    init, grads = problem(SHAPES, seed=3)
    optimizer, got = run_generated(module, init, grads, newton_schulz_dtype="float64")
    slots = {v.path.split("/")[-1]: (tuple(v.shape), v.dtype) for v in optimizer.variables}
    assert slots["conv.kernel_row_var"] == ((2, 3, 1), "float64")
    assert slots["conv.kernel_col_var"] == ((2, 1, 4), "float64")
    assert slots["enc.bias_mu_product"] == ((), "float64") and slots["head.scale_mu_product"] == ((), "float64")
    assert slots["enc.weight_momentum_buffer"] == ((3, 4), "float64")
    assert not any(k.startswith("enc.weight") and k != "enc.weight_momentum_buffer" for k in slots)
    np.testing.assert_array_equal(got[2]["enc.weight"], init["enc.weight"])  # frozen for updates 0..2
    assert_matches_reference(plan, init, grads, got)


def _cli_emit(spec: Path, target: str, model: str, out: Path) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["compile", str(spec), "--target", target, "--model", model, "--emit", "python", "-o", str(out)])
    assert code == 0, err.getvalue()
    return out.read_text()


def _code(source: str) -> str:
    """A generated module without its docstring (whose header names the target)."""
    assert source.startswith('"""')
    return source[source.index('"""', 3) :]


def test_emitted_muon_adamw_example_matches_the_reference(tmp_path: Path) -> None:
    """examples/muon_adamw.yaml (muon for the 2-D weights but the head, adamw for the rest, no decay
    for ndim <= 1) through the CLI for target keras, on its parameter list with every dimension
    shrunk to <= 5; target tf (the alias) emits the same code."""
    spec = ROOT / "examples" / "muon_adamw.yaml"
    params_file = ROOT / "examples" / "params" / "muon_adamw.txt"
    source = _cli_emit(spec, "keras", str(params_file), tmp_path / "gen_keras.py")
    assert _code(_cli_emit(spec, "tf", str(params_file), tmp_path / "gen_tf.py")) == _code(source)
    listed = read_params(params_file)
    assert isinstance(listed, dict)
    params = {n: tuple(s) for n, s in listed.items() if isinstance(s, tuple)}
    assert len(params) == len(listed) == 32
    shapes = {n: tuple(min(int(d), 5) for d in s) for n, s in params.items()}
    plan = lrspec.resolve(lrspec.load(spec), shapes)  # the reference's plan, for the shrunk shapes
    assert plan.group_of("blocks.0.mlp.fc1.weight").family == "muon"
    assert plan.group_of("head.weight").family == "adamw" and plan.group_of("patch_embed.proj.weight").family == "adamw"
    full = lrspec.resolve(lrspec.load(spec), params)  # the emitted plan: the same groups
    assert [(g.name, g.family, g.params) for g in full.groups] == [(g.name, g.family, g.params) for g in plan.groups]
    module = load(source, "gen_muon_adamw")
    init, grads = problem(shapes, seed=7)
    _, got = run_generated(module, init, grads[:4], newton_schulz_dtype="float64")
    assert_matches_reference(plan, init, grads[:4], got)


def _aligned_gradients(rng: np.random.Generator, shape: tuple[int, int], steps: int) -> list[np.ndarray]:
    """U diag(s_t) V^T, fixed U, V, s_t in [0.5, 1.5]: every Newton-Schulz input has condition <= 3."""
    m = min(shape)
    u, _ = np.linalg.qr(rng.normal(size=(shape[0], m)))
    v, _ = np.linalg.qr(rng.normal(size=(shape[1], m)))
    return [(u * rng.uniform(0.5, 1.5, size=m)) @ v.T for _ in range(steps)]


def test_emitted_muon_default_is_bfloat16_as_the_compiled_target() -> None:
    """No newton_schulz_dtype: bfloat16 (torch's stock Muon). Bitwise the compiled tf-v1 target's
    default (same rules), within the reference's bfloat16 bound
    ||p - p_ref||_F <= BF16_UPDATE_RTOL * sum_t adjust_lr(lr_t) ||O_ref,t||_F, and a real
    bfloat16 difference; a bad dtype is refused."""
    shapes = {"a.weight": (4, 6), "b.weight": (7, 3)}
    plan = plan_of({"type": "muon", "lr": 0.05, "weight_decay": 0.1}, shapes)
    module = load(emit_python(plan, "tf"), "gen_muon_bf16")
    rng = np.random.default_rng(2)
    init = {n: rng.normal(size=s) for n, s in shapes.items()}
    per_param = {n: _aligned_gradients(rng, s, STEPS) for n, s in shapes.items()}
    grads = [{n: per_param[n][t] for n in shapes} for t in range(STEPS)]
    _, got = run_generated(module, init, grads)

    names = list(shapes)
    variables = [tf.Variable(init[n]) for n in names]
    compiled = CompiledV1(plan, variables, names=names)  # newton_schulz_dtype None: bfloat16
    for t, g in enumerate(grads):
        compiled.apply_gradients([(tf.constant(g[n]), v) for n, v in zip(names, variables)])
        for n, v in zip(names, variables):
            np.testing.assert_array_equal(got[t][n], v.numpy(), err_msg=f"update {t + 1}, {n}")

    ref = R.simulate(plan, init, grads)
    worst = 0.0
    for n, shape in shapes.items():
        buf, budget = np.zeros(shape), 0.0
        for t, g in enumerate(grads):
            buf = buf + (g[n] - buf) * 0.05
            blend = g[n] + (buf - g[n]) * 0.95
            assert np.linalg.cond(blend) <= R.BF16_MAX_CONDITION
            budget += adjust_lr(plan.groups[0].lr_at(t), None, shape) * float(np.linalg.norm(R.newton_schulz(blend)))
            dev = float(np.linalg.norm(got[t][n] - ref[t + 1][n]))
            assert dev <= R.BF16_UPDATE_RTOL * budget, (t, n, dev, budget)
            worst = max(worst, dev / budget)
    assert worst > 1e-4  # bfloat16, not float64

    with pytest.raises(ValueError, match="newton_schulz_dtype"):
        module.build(types.SimpleNamespace(trainable_variables=[]), newton_schulz_dtype="float16")
