"""`lrspec compile --emit python`: generated modules give the same updates as lrspec.compile."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import math
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import lrspec
from lrspec import schedules
from lrspec.spec.models import Spec
from lrspec.tools.cli import main
from lrspec.tools.emit._common import schedule_interpreter_source
from lrspec.tools.paramfile import read_params

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TORCH_MODELS = ["mnist_cnn", "convnet6", "lenet", "transformer"]  # lrspec_torch.examples
STEPS = 21  # past every example's freeze (20) and first decay (16)

SCHEDULES: list[dict[str, Any]] = [
    {"type": "constant", "value": 0.5},
    {"type": "exponential", "decay_rate": 0.96, "decay_steps": 16, "staircase": True},
    {"type": "exponential", "decay_rate": 0.9, "decay_steps": 7},
    {"type": "step", "step_size": 5, "gamma": 0.3},
    {"type": "multistep", "milestones": [3, 10, 11], "gamma": 0.5},
    {"type": "piecewise", "boundaries": [4, 9], "values": [1.0, 0.5, 0.1]},
    {"type": "cosine", "decay_steps": 13, "min_mult": 0.1},
    {"type": "polynomial", "decay_steps": 12, "power": 2.0, "end_mult": 0.05},
    {"type": "linear", "start_mult": 0.2, "end_mult": 1.0, "steps": 6},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 4, "staircase": True},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 4},
    {"type": "warmup", "steps": 5, "start_mult": 0.1, "then": {"type": "cosine", "decay_steps": 10}},
    {
        "type": "sequence",
        "boundaries": [3, 8],
        "schedules": [
            {"type": "linear", "start_mult": 0, "end_mult": 1, "steps": 3},
            {"type": "constant"},
            {"type": "step", "step_size": 2, "gamma": 0.5},
        ],
    },
]


def _schedule_node(data: dict[str, Any]) -> Any:
    spec = Spec.model_validate({"version": 1, "optimizer": {"type": "sgd"}, "schedule": data})
    return spec.schedule


@pytest.mark.parametrize("data", SCHEDULES, ids=lambda d: d["type"])
def test_python_schedule_is_the_definition(data: dict[str, Any]) -> None:
    node = _schedule_node(data)
    ns: dict[str, Any] = {}
    # what a generated pure-Python module does: the inlined from_dict applied to the JSON form
    source = "from __future__ import annotations\nimport bisect, math\n" + schedule_interpreter_source()
    exec(source + f"\nm = from_dict({node.model_dump(mode='json')!r})\n", ns)
    definition = schedules.from_spec(node)
    for t in [*range(40), 10**6]:
        assert ns["m"](t) == definition(t), (t, data)


# ------------------------------------------------------------------ torch


def _emit(spec: Path, target: str, model: str, tmp_path: Path) -> types.ModuleType:
    out = tmp_path / f"gen_{target}_{spec.stem}.py"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["compile", str(spec), "--target", target, "--model", model, "--emit", "python", "-o", str(out)])
    assert code == 0, err.getvalue()
    source = out.read_text()
    assert not re.search(r"^\s*(import|from)\s+lrspec", source, re.M), "the generated module must not import lrspec"
    module_spec = importlib.util.spec_from_file_location(out.stem, out)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[out.stem] = module  # as an import would (dataclasses look the module up)
    try:
        module_spec.loader.exec_module(module)
    finally:
        del sys.modules[out.stem]
    return module


def _bundled_model_for(spec: Path) -> str | None:
    """The bundled torch model whose parameter names are the example's params file's, if any."""
    import lrspec_torch.examples as ex

    names = set(read_params(ROOT / "examples" / "params" / f"{spec.stem}.txt"))
    for fn in TORCH_MODELS:
        if {n for n, _ in getattr(ex, fn)().named_parameters()} == names:
            return fn
    return None


def _torch_model_for(spec: Path) -> str:
    fn = _bundled_model_for(spec)
    if fn is None:
        pytest.skip(f"no bundled model has the parameters of {spec.stem}")
    return fn


def _params_file_model(spec: Path, seed: int) -> Any:
    """An nn.Module tree whose named_parameters() are the example's params file's names, with its
    shapes shrunk (each dimension at most 6: Muon's bfloat16 Newton-Schulz is slow on CPU)."""
    import torch

    params = read_params(ROOT / "examples" / "params" / f"{spec.stem}.txt")
    assert isinstance(params, dict)
    torch.manual_seed(seed)
    root = torch.nn.Module()
    for name, shape in params.items():
        *path, leaf = name.split(".")
        node = root
        for part in path:
            if not hasattr(node, part):
                node.add_module(part, torch.nn.Module())
            node = getattr(node, part)
        node.register_parameter(leaf, torch.nn.Parameter(torch.randn(*[min(d, 6) for d in shape]) * 0.1))
    return root


@pytest.mark.torch
@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.stem)
def test_generated_torch_module_matches_lrspec_compile(spec: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import lrspec_torch.examples as ex

    fn = _bundled_model_for(spec)
    if fn is not None:
        gen = _emit(spec, "torch", f"lrspec_torch.examples:{fn}", tmp_path)
        model_a, model_b = getattr(ex, fn)(seed=1), getattr(ex, fn)(seed=1)
    else:  # an example for a model lrspec does not bundle (timm ViT names): a tree of its parameters
        from lrspec.tools.emit import emit_python

        model_a, model_b = _params_file_model(spec, 1), _params_file_model(spec, 1)
        plan = lrspec.compile(spec, model_a, target="torch").plan
        gen = _torch_module_from_source(emit_python(plan, "torch"), f"gen_torch_{spec.stem}")
    opt_a, sched_a = gen.build(model_a)
    # torch.optim defaults on CPU (the for-loop kernels), as in the generated module: bit-identical
    # (passing fused only where a torch class of the plan takes it: the adapter drops it elsewhere)
    from lrspec_torch.emit import TORCH_CLASSES

    families = lrspec.compile(spec, model_b, target="torch").plan.families
    takes_fused = any("fused" in inspect.signature(getattr(torch.optim, TORCH_CLASSES[f])).parameters for f in families)
    options = {"foreach": False, **({"fused": False} if takes_fused else {})}
    compiled = lrspec.compile(spec, model_b, target="torch", **options)
    opt_b, sched_b = compiled.optimizer, compiled.scheduler
    gen_rng = torch.Generator().manual_seed(0)
    named_a, named_b = dict(model_a.named_parameters()), dict(model_b.named_parameters())
    initial = {n: p.detach().clone() for n, p in named_a.items()}
    plan = compiled.plan
    for t in range(STEPS):
        for name in plan.names:  # the lr each trained group uses at update t is the plan's
            g = plan.group_of(name)
            if not g.frozen and not g.is_frozen_at(t):
                pg = next(pg for pg in opt_a.param_groups if pg["name"] == g.name)
                assert pg["lr"] == plan.lr(name, t)
        for name, pa in named_a.items():
            grad = torch.randn(pa.shape, generator=gen_rng)
            pa.grad = grad.clone() if pa.requires_grad else None
            named_b[name].grad = grad.clone() if named_b[name].requires_grad else None
        opt_a.step()
        sched_a.step()
        opt_b.step()
        sched_b.step()
    moved = 0
    for name, pa in named_a.items():
        torch.testing.assert_close(pa, named_b[name], rtol=0, atol=0, msg=lambda m, n=name: f"{n}: {m}")
        moved += int(not torch.equal(pa, initial[name]))
    assert moved > 0


def _torch_module_from_source(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def _module_child_model() -> Any:
    import torch

    class M(torch.nn.Module):
        """A model whose only child is called ``module`` (its names start with ``module.``)."""

        def __init__(self) -> None:
            super().__init__()
            self.module = torch.nn.Linear(2, 2)

    torch.manual_seed(0)
    return M()


@pytest.mark.torch
def test_generated_torch_module_accepts_a_model_whose_child_is_called_module() -> None:
    """The torch target names a plain model's parameters as they are (``module.weight``) and
    unwraps wrappers by type; the generated build() must name them the same way."""
    torch = pytest.importorskip("torch")
    from lrspec.tools.emit import emit_python

    group = {"name": "m", "params": ["module.*"], "lr_mult": 0.5}
    spec = {"version": 1, "optimizer": {"type": "sgd", "lr": 0.1}, "groups": [group]}
    model = _module_child_model()
    compiled = lrspec.compile(spec, model, target="torch")
    assert set(compiled.plan.names) == {"module.weight", "module.bias"}
    gen = _torch_module_from_source(emit_python(compiled.plan, "torch"), "gen_module_child")
    for wrapped in (
        model,
        torch.nn.DataParallel(model),
        torch.compile(model),
        torch.nn.DataParallel(torch.compile(model)),
    ):
        opt, _ = gen.build(wrapped)
        ((group),) = opt.param_groups
        assert group["name"] == "m" and group["lr"] == pytest.approx(0.05)
        assert {id(p) for p in group["params"]} == {id(p) for p in model.parameters()}


@pytest.mark.torch
def test_generated_torch_naming_is_the_targets() -> None:
    """The inlined naming (canonical_name and _unwrap) gives the torch target's names."""
    torch = pytest.importorskip("torch")
    from lrspec_torch import names
    from lrspec_torch.emit import naming_source

    ns: dict[str, Any] = {}
    exec("from __future__ import annotations\nimport torch\nfrom torch import nn\n" + naming_source(), ns)
    model = _module_child_model()
    for wrapped in (
        model,
        torch.nn.DataParallel(model),
        torch.compile(model),
        torch.nn.DataParallel(torch.compile(model)),
    ):
        assert ns["_unwrap"](wrapped) is names.unwrap(wrapped) is model
        assert [n for n, _ in ns["_named_parameters"](wrapped)] == [n for n, _ in names.named_tensors(wrapped)]
    for raw in ["a._fsdp_wrapped_module.b.weight", "_checkpoint_wrapped_module.x", "module.weight", "plain"]:
        assert ns["canonical_name"](raw) == names.canonical_name(raw)


# ------------------------------------------------------------------ tf


@pytest.mark.tf
@pytest.mark.parametrize("data", SCHEDULES, ids=lambda d: d["type"])
def test_tf_schedule_matches_the_definition(data: dict[str, Any]) -> None:
    pytest.importorskip("lrspec_tf.rules")
    from lrspec_tf.emit import PREAMBLE, inlined_source

    node = _schedule_node(data)
    ns: dict[str, Any] = {}
    # what a generated module does: the inlined schedule_from_dict applied to the JSON form
    exec(PREAMBLE + "\n" + inlined_source() + f"\nm = schedule_from_dict({node.model_dump(mode='json')!r})\n", ns)
    definition = schedules.from_spec(node)
    for t in [*range(30), 10**6]:
        got = float(ns["m"](ns["tf"].constant(t, ns["tf"].int64)))
        assert math.isclose(got, definition(t), rel_tol=1e-14, abs_tol=1e-300), (t, got, definition(t))


@pytest.mark.tf
@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.stem)
def test_generated_tf_module_matches_lrspec_compile(spec: Path, tmp_path: Path) -> None:
    pytest.importorskip("lrspec_tf.rules")
    import lrspec_tf.examples as ex
    import numpy as np
    import tensorflow as tf

    fn = _torch_model_for(spec)  # the Keras twin has the same name in lrspec_tf.examples
    gen = _emit(spec, "tf", f"lrspec_tf.examples:{fn}", tmp_path)
    model_a, model_b = getattr(ex, fn)(seed=1), getattr(ex, fn)(seed=1)
    opt_a = gen.build(model_a)
    compiled = lrspec.compile(spec, model_b, target="tf")
    vars_a, vars_b = list(model_a.trainable_variables), list(model_b.trainable_variables)
    initial = [v.numpy().copy() for v in vars_a]
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        grads = [rng.standard_normal(v.shape).astype(np.float32) for v in vars_a]
        opt_a.apply_gradients(zip([tf.constant(g) for g in grads], vars_a))
        compiled.optimizer.apply_gradients(zip([tf.constant(g) for g in grads], vars_b))
    moved = 0
    for va, vb, v0 in zip(vars_a, vars_b, initial):
        # the same rule source and kernels: equal up to float32 roundoff (in practice bit-identical)
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-6, atol=1e-8, err_msg=va.path)
        moved += int(not np.array_equal(va.numpy(), v0))
    assert moved > 0


# ------------------------------------------------------------------ torch: freezes, clipping, families


def _emitted_torch(spec: dict[str, Any], model: Any, name: str) -> types.ModuleType:
    from lrspec.tools.emit import emit_python

    plan = lrspec.compile(spec, model, target="torch").plan
    return _torch_module_from_source(emit_python(plan, "torch"), name)


@pytest.mark.torch
def test_generated_torch_freeze_until_works_with_a_closure() -> None:
    """The issue-10 reproducer on the emitted module: no momentum state while frozen."""
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    x = torch.randn(8, 3)
    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
        "groups": [{"name": "a", "params": ["0.*"], "freeze": {"until_step": 3}}],
    }
    gen = _emitted_torch(spec, net, "gen_closure_freeze")
    opt, sched = gen.build(net)
    w0 = net[0].weight.detach().clone()
    calls = []

    def closure() -> Any:
        calls.append(1)
        opt.zero_grad()
        loss = net(x).pow(2).mean()
        loss.backward()
        return loss

    for t in range(4):
        opt.step(closure)
        sched.step()
        if t < 3:
            assert "momentum_buffer" not in opt.state[net[0].weight]
            assert torch.equal(net[0].weight, w0)
    assert len(calls) == 4
    assert "momentum_buffer" in opt.state[net[0].weight] and not torch.equal(net[0].weight, w0)


def _clip_run(build: Any, model: Any, steps: int, closure: bool) -> None:
    torch = pytest.importorskip("torch")
    opt, sched = build(model)
    g = torch.Generator().manual_seed(5)
    data = [torch.randn(6, 3, generator=g) for _ in range(steps)]
    for t in range(steps):

        def loss_backward_clip(x: Any = data[t]) -> Any:
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
            return loss

        if closure:
            opt.step(loss_backward_clip)
        else:
            loss_backward_clip()
            opt.step()
        sched.step()


@pytest.mark.torch
@pytest.mark.parametrize("closure", [False, True], ids=["step", "closure"])
def test_generated_torch_clipping_never_sees_frozen_gradients(closure: bool) -> None:
    """Clipping between backward and step (or in the closure): the emitted module equals the
    compiled optimizer bitwise, and both differ from a run where the frozen gradients count."""
    torch = pytest.importorskip("torch")
    from torch import nn

    def model() -> Any:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))

    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
        "groups": [{"name": "a", "params": ["0.*"], "freeze": {"until_step": 4}}],
    }
    gen = _emitted_torch(spec, model(), f"gen_clip_{closure}")
    emitted, compiled = model(), model()

    def build_compiled(m: Any) -> Any:
        c = lrspec.compile(spec, m, target="torch", foreach=False, fused=False)
        return c.optimizer, c.scheduler

    _clip_run(gen.build, emitted, 6, closure)
    _clip_run(build_compiled, compiled, 6, closure)
    for (n, p), q in zip(emitted.named_parameters(), compiled.parameters()):
        assert torch.equal(p, q), n

    # the same loop where frozen gradients reach the clipping (a step pre-hook discarding them):
    # the trained layer ends elsewhere
    def build_late_discard(m: Any) -> Any:
        opt = torch.optim.SGD(
            [{"params": list(m[2].parameters())}, {"params": list(m[0].parameters())}], lr=0.1, momentum=0.9
        )
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)

        def discard(o: Any, args: Any, kwargs: Any) -> None:
            if sched.last_epoch < 4:
                for p in m[0].parameters():
                    p.grad = None

        opt.register_step_pre_hook(discard)
        return opt, sched

    late = model()
    _clip_run(build_late_discard, late, 6, False)
    assert not torch.equal(late[2].weight, compiled[2].weight)


@pytest.mark.torch
def test_generated_torch_family_per_group_is_one_hybrid_optimizer() -> None:
    """Muon for the 2-D weights, AdamW for the rest: the emitted module builds ONE optimizer
    that equals the compiled one bitwise (for-loop kernels in both)."""
    torch = pytest.importorskip("torch")
    from torch import nn

    def model() -> Any:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))

    spec = {
        "version": 1,
        "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.05},
        "schedule": {"type": "cosine", "decay_steps": 8},
        "groups": [
            {"name": "matrices", "params": ["*"], "ndim": 2, "optimizer": {"type": "muon"}, "lr": 0.02},
            {"name": "first", "params": ["0.*"], "freeze": {"until_step": 2}},
        ],
    }
    gen = _emitted_torch(spec, model(), "gen_hybrid")
    emitted, compiled = model(), model()
    opt, _ = gen.build(model())
    assert type(opt).__name__ == "HybridOptimizer" and isinstance(opt, torch.optim.Optimizer)
    assert sorted(type(o).__name__ for o in opt.optimizers) == ["AdamW", "Muon"]
    assert {g["name"]: g["family"] for g in opt.param_groups} == {
        "first": "adamw",
        "default": "adamw",
        "matrices": "muon",
    } or {g["family"] for g in opt.param_groups} == {"adamw", "muon"}

    def build_compiled(m: Any) -> Any:
        c = lrspec.compile(spec, m, target="torch", foreach=False, fused=False)
        return c.optimizer, c.scheduler

    _clip_run(gen.build, emitted, 6, True)
    _clip_run(build_compiled, compiled, 6, True)
    for (n, p), q in zip(emitted.named_parameters(), compiled.parameters()):
        assert torch.equal(p, q), n
