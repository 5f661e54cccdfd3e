"""Which torch implementation lrspec should pick by default on CPU: ``fused=True`` vs
``foreach=True`` per-step time of ``torch.optim.Adam`` / ``AdamW`` / ``Adagrad`` by tensor size.

For each size ``n`` (elements per tensor) the model is ``--tensors`` tensors of ``n`` float32
elements with fixed gradients; timed: ``optimizer.step()``, minimum of ``--repeats`` runs of
``--steps`` steps, the two implementations interleaved in the same process. The ratio
fused / foreach below 1 means fused is faster. It checks lrspec's default
(:func:`lrspec_torch.optimizer.choose_implementation`: fused for adam, adamw and adagrad on CPU)
at every size, small tensors included.

    python bench/bench_torch_impl.py [--tensors 50] [--steps 50] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

SIZES = (16, 64, 256, 1024, 4096, 16384, 65536, 262144)


def _time(opt: torch.optim.Optimizer, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    return (time.perf_counter() - t0) * 1000 / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tensors", type=int, default=50)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--families", default="adam,adamw,adagrad")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adagrad": torch.optim.Adagrad}
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.tensors} tensors")
    print(f"{'family':<8} {'numel':>8} {'fused ms':>9} {'foreach ms':>11} {'fused/foreach':>14}")
    for family in args.families.split(","):
        for n in SIZES:
            torch.manual_seed(0)
            opts = {}
            for impl in ("fused", "foreach"):
                ps = [torch.nn.Parameter(torch.randn(n)) for _ in range(args.tensors)]
                for p in ps:
                    p.grad = torch.randn_like(p)
                opt = classes[family](ps, lr=1e-3, **{impl: True})
                opt.step()  # state creation
                opts[impl] = opt
            best = {k: float("inf") for k in opts}
            for _ in range(args.repeats):
                for k, o in opts.items():
                    best[k] = min(best[k], _time(o, args.steps))
            print(f"{family:<8} {n:>8} {best['fused']:>9.3f} {best['foreach']:>11.3f} {best['fused'] / best['foreach']:>14.2f}")


if __name__ == "__main__":
    main()
