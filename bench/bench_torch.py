"""Optimizer-update time of the torch target vs hand-written torch.optim code.

Model: 100 layers ``layers.{i}`` of ``weight`` [224, 224] + ``bias`` [224]: 200 tensors,
5.04 M parameters, float32, CPU. Gradients are fixed (set once), so only
``optimizer.step(); scheduler.step()`` is timed: ``--steps`` Adam updates per run, each
variant ``--repeats`` times interleaved, minimum reported, ratios lrspec / hand-written from
the same run with the same implementation flag (foreach, fused) on both sides.

A. 4-group spec vs a hand-written single-group ``Adam`` + ``LambdaLR`` (warmup + cosine).
B. ~100-layer layer-decay spec (no weight decay on biases: 200 groups) vs a hand-written
   timm-style optimizer (one group per layer and decay/no-decay, lr scale baked into each
   group, ``LambdaLR`` with the same warmup + cosine).
C. exploration: the same layer-decay update as ONE multi-tensor pass with per-tensor lrs
   (a foreach Adam written with torch._foreach ops; torch's own kernels take one lr per group).
D. a family per group: Muon for the 2-D weights + AdamW for the biases (no decay), lrspec's ONE
   HybridOptimizer vs the two hand-written stock optimizers (``torch.optim.Muon`` +
   ``torch.optim.AdamW``, two ``LambdaLR``), on its own model (``--hybrid-layers`` layers of
   ``--hybrid-width``: torch's Muon runs Newton-Schulz in bfloat16, slow on CPU), ``--hybrid-steps``.

    python bench/bench_torch.py [--steps 200] [--repeats 5] [--threads 1] [--device cpu|cuda]
        [--hybrid-layers 16] [--hybrid-width 32] [--hybrid-steps 40] [--only-hybrid]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import lrspec

LAYERS, WIDTH = 100, 224
WARMUP, TOTAL = 20, 10_000
RATE = 0.97


DEVICE = torch.device("cpu")


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Module()
    model.layers = nn.ModuleList([nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)])
    model.to(DEVICE)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-2
    return model


def multiplier(t: int) -> float:
    """The warmup + cosine used on both sides (written out for the hand-written LambdaLR)."""
    if t < WARMUP:
        return t / WARMUP
    return 0.5 * (1.0 + math.cos(math.pi * min(t - WARMUP, TOTAL) / TOTAL))


SCHEDULE = {"type": "warmup", "steps": WARMUP, "start_mult": 0.0, "then": {"type": "cosine", "decay_steps": TOTAL}}

SPEC_4 = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3, "weight_decay": 1e-4},
    "schedule": SCHEDULE,
    "groups": [
        {"name": "early", "params": ["layers.[0-9].*", "layers.1[0-9].*"], "lr_mult": 0.1},
        {"name": "late", "params": ["layers.[89][0-9].*"], "lr_mult": 2.0},
        {"name": "head", "params": ["layers.99.*"], "lr_mult": 10.0},
    ],
}

SPEC_LAYER_DECAY = {
    "version": 1,
    "optimizer": {"type": "adam", "lr": 1e-3, "weight_decay": 1e-4},
    "schedule": SCHEDULE,
    "layer_decay": {"rate": RATE, "layers": ["layers.{i}.*"]},
    "groups": [{"name": "no_decay", "params": ["*.bias"], "weight_decay": 0.0}],
}


def hand_single(model: nn.Module, impl: dict[str, bool]) -> tuple[Any, Any]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4, **impl)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, multiplier)


def hand_timm(model: nn.Module, impl: dict[str, bool]) -> tuple[Any, Any]:
    groups = []
    for i, layer in enumerate(model.layers):
        scale = RATE ** (LAYERS - 1 - i)
        groups.append({"params": [layer.weight], "lr": 1e-3 * scale, "weight_decay": 1e-4})
        groups.append({"params": [layer.bias], "lr": 1e-3 * scale, "weight_decay": 0.0})
    opt = torch.optim.Adam(groups, lr=1e-3, **impl)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, multiplier)


def lrspec_pair(spec: dict[str, Any]) -> Callable[[nn.Module, dict[str, bool]], tuple[Any, Any]]:
    def build(model: nn.Module, impl: dict[str, bool]) -> tuple[Any, Any]:
        c = lrspec.compile(spec, model, target="torch", **impl)
        return c.optimizer, c.scheduler

    return build


class PerTensorLrAdam(torch.optim.Optimizer):
    """Exploration only: Adam (coupled wd) over ONE group with a per-tensor lr scale, as one
    multi-tensor pass (torch's _multi_tensor_adam with per-tensor step sizes and wd)."""

    def __init__(self, params: list[torch.Tensor], scales: list[float], wds: list[float], lr: float) -> None:
        super().__init__(
            [{"params": params, "scales": scales, "wds": wds}], {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-8}
        )

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        g = self.param_groups[0]
        params, scales, wds = g["params"], g["scales"], g["wds"]
        b1, b2 = g["betas"]
        if not self.state:
            for p in params:
                self.state[p] = {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)}
        st = [self.state[p] for p in params]
        grads = [p.grad for p in params]
        s = st[0]["step"] + 1
        for x in st:
            x["step"] = s
        grads = torch._foreach_add(grads, torch._foreach_mul(params, wds))
        ms, vs = [x["m"] for x in st], [x["v"] for x in st]
        torch._foreach_lerp_(ms, grads, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, grads, grads, 1 - b2)
        bc1, bc2 = 1 - b1**s, 1 - b2**s
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, bc2**0.5)
        torch._foreach_add_(denom, g["eps"])
        torch._foreach_addcdiv_(params, ms, denom, [-(g["lr"] * k) / bc1 for k in scales])


def per_tensor_pair(model: nn.Module, impl: dict[str, bool]) -> tuple[Any, Any]:
    params, scales, wds = [], [], []
    for i, layer in enumerate(model.layers):
        for p, wd in ((layer.weight, 1e-4), (layer.bias, 0.0)):
            params.append(p)
            scales.append(RATE ** (LAYERS - 1 - i))
            wds.append(wd)
    opt = PerTensorLrAdam(params, scales, wds, lr=1e-3)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, multiplier)


HYBRID_LAYERS, HYBRID_WIDTH = 16, 32

SPEC_HYBRID = {
    "version": 1,
    "optimizer": {"type": "adamw", "lr": 1e-3, "weight_decay": 0.05},
    "schedule": SCHEDULE,
    "groups": [
        {
            "name": "matrices",
            "params": ["*"],
            "ndim": 2,
            "optimizer": {"type": "muon", "adjust_lr_fn": "match_rms_adamw"},
            "lr": 0.02,
        },
        {"name": "no_decay", "params": ["*"], "ndim": [0, 1], "weight_decay": 0.0},
    ],
}


def make_hybrid_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Module()
    model.layers = nn.ModuleList([nn.Linear(HYBRID_WIDTH, HYBRID_WIDTH) for _ in range(HYBRID_LAYERS)])
    model.to(DEVICE)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-2
    return model


class _Both:
    """Steps several optimizers / schedulers in order (the hand-written two-optimizer loop)."""

    def __init__(self, *items: Any) -> None:
        self.items = items

    def step(self) -> None:
        for x in self.items:
            x.step()


def hand_hybrid(model: nn.Module, impl: dict[str, bool]) -> tuple[Any, Any]:
    weights = [layer.weight for layer in model.layers]
    biases = [layer.bias for layer in model.layers]
    muon = torch.optim.Muon(weights, lr=0.02, weight_decay=0.05, adjust_lr_fn="match_rms_adamw")
    adamw = torch.optim.AdamW(biases, lr=1e-3, weight_decay=0.0, **impl)
    lambdas = [torch.optim.lr_scheduler.LambdaLR(o, multiplier) for o in (muon, adamw)]
    return _Both(muon, adamw), _Both(*lambdas)


def time_run(
    build: Callable[[nn.Module, dict[str, bool]], tuple[Any, Any]],
    impl: dict[str, bool],
    steps: int,
    model_fn: Callable[[], nn.Module] = make_model,
) -> float:
    model = model_fn()
    opt, sched = build(model, impl)
    for _ in range(3):  # warm-up (state allocation)
        opt.step()
        sched.step()
    sync = torch.cuda.synchronize if DEVICE.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        opt.step()
        sched.step()
    sync()
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    global DEVICE, HYBRID_LAYERS, HYBRID_WIDTH
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hybrid-layers", type=int, default=HYBRID_LAYERS)
    ap.add_argument("--hybrid-width", type=int, default=HYBRID_WIDTH)
    ap.add_argument("--hybrid-steps", type=int, default=40)
    ap.add_argument("--only-hybrid", action="store_true", help="run comparison D only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    DEVICE = torch.device(args.device)
    HYBRID_LAYERS, HYBRID_WIDTH = args.hybrid_layers, args.hybrid_width
    hybrid(args)
    if args.only_hybrid:
        return
    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    where = torch.cuda.get_device_name() if DEVICE.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(
        f"torch {torch.__version__}, {where}; model: {len(list(model.parameters()))} tensors, "
        f"{n_params / 1e6:.2f} M params; {args.steps} Adam updates per run, min of {args.repeats}"
    )
    for spec, label in ((SPEC_4, "A"), (SPEC_LAYER_DECAY, "B")):
        c = lrspec.compile(spec, make_model(), target="torch")
        print(f"  spec {label}: {len(c.optimizer.param_groups)} param groups")

    variants: dict[str, tuple[Callable[[nn.Module, dict[str, bool]], tuple[Any, Any]], list[dict[str, bool]]]] = {
        "A hand 1 group + LambdaLR": (hand_single, []),
        "A lrspec 4-group spec": (lrspec_pair(SPEC_4), []),
        "B hand timm per-layer": (hand_timm, []),
        "B lrspec layer decay": (lrspec_pair(SPEC_LAYER_DECAY), []),
    }
    impls = [{"foreach": True}, {"fused": True}]
    results: dict[tuple[str, str], float] = {}
    for _ in range(args.repeats):
        for impl in impls:
            key = next(iter(impl))
            for name, (build, _) in variants.items():
                ms = time_run(build, impl, args.steps)
                results[(name, key)] = min(ms, results.get((name, key), math.inf))
        ms = time_run(per_tensor_pair, {}, args.steps)
        results[("C per-tensor lr, 1 foreach pass", "foreach")] = min(
            ms, results.get(("C per-tensor lr, 1 foreach pass", "foreach"), math.inf)
        )

    print("\n| comparison | impl | hand-written ms/update | lrspec ms/update | ratio lrspec / hand |")
    print("|---|---|---|---|---|")
    for impl in ("foreach", "fused"):
        for hand, ours in (
            ("A hand 1 group + LambdaLR", "A lrspec 4-group spec"),
            ("B hand timm per-layer", "B lrspec layer decay"),
        ):
            h, o = results[(hand, impl)], results[(ours, impl)]
            print(f"| {hand[0]}: {ours[2:]} vs {hand[2:]} | {impl} | {h:.2f} | {o:.2f} | **{o / h:.3f}** |")
    c_ms = results[("C per-tensor lr, 1 foreach pass", "foreach")]
    print(
        f"\nC (exploration): layer decay as one foreach pass with per-tensor lrs: {c_ms:.2f} ms/update; "
        f"vs hand timm foreach {c_ms / results[('B hand timm per-layer', 'foreach')]:.3f}, "
        f"vs hand timm fused {c_ms / results[('B hand timm per-layer', 'fused')]:.3f}, "
        f"vs hand 1-group foreach {c_ms / results[('A hand 1 group + LambdaLR', 'foreach')]:.3f}, "
        f"vs hand 1-group fused {c_ms / results[('A hand 1 group + LambdaLR', 'fused')]:.3f}"
    )


def hybrid(args: argparse.Namespace) -> None:
    """Comparison D (see the module docstring)."""
    c = lrspec.compile(SPEC_HYBRID, make_hybrid_model(), target="torch")
    kinds = ", ".join(f"{f}: {type(o).__name__}" for f, o in zip(c.optimizer.families, c.optimizer.optimizers))
    print(
        f"D: {HYBRID_LAYERS} x Linear({HYBRID_WIDTH}, {HYBRID_WIDTH}); lrspec {type(c.optimizer).__name__} [{kinds}], "
        f"{len(c.optimizer.param_groups)} param groups; {args.hybrid_steps} updates per run, min of {args.repeats}"
    )
    results: dict[tuple[str, str], float] = {}
    for _ in range(args.repeats):
        for impl in ({"foreach": True}, {"fused": True}):
            key = next(iter(impl))
            for name, build in (("hand", hand_hybrid), ("lrspec", lrspec_pair(SPEC_HYBRID))):
                ms = time_run(build, impl, args.hybrid_steps, make_hybrid_model)
                results[(name, key)] = min(ms, results.get((name, key), math.inf))
    print("\n| D: Muon + AdamW | AdamW impl | hand-written ms/update | lrspec ms/update | ratio lrspec / hand |")
    print("|---|---|---|---|---|")
    for key in ("foreach", "fused"):
        h, o = results[("hand", key)], results[("lrspec", key)]
        print(f"| HybridOptimizer vs Muon + AdamW | {key} | {h:.2f} | {o:.2f} | **{o / h:.3f}** |")
    print()


if __name__ == "__main__":
    main()
