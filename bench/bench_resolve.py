"""Benchmark: resolving 1k, 10k and 100k transformer-like parameter names against 50 patterns.

Run: ``.venv/bin/python bench/bench_resolve.py`` (or ``make bench``). Prints, per size, the
median of several runs of :func:`lrspec.resolve`, a naive baseline in the same process
(for each name: every pattern with :func:`fnmatch.fnmatchcase` / ``re.fullmatch``, then the
cascade as a dict per name), their ratio, and the time per name (linearity check).
The spec has 50 patterns (globs, ``re:`` regexes and layer-decay patterns with ``{i}``).
Times are medians; both wall-clock and CPU time (``time.process_time``) are printed for
lrspec, CPU time for the baseline (wall-clock time is unreliable on a shared machine).
Globs run on Python's :mod:`re` (translated so that matching is linear in the name's length),
``re:`` patterns on RE2 (linear whatever the pattern; each match costs a few microseconds in
the google-re2 wrapper, more than a Python ``re`` match).
It also times hostile patterns (catastrophic backtracking for a backtracking engine:
``*a*a*a*a*a*a*a*a*a*a*a*ab`` and ``re:(a+)+b`` against 1000 names of 200-odd characters).
Not a test: it exits 1 if 100k names take 1 s of CPU time or more, if the time per name
grows by more than 2x from 10k to 100k, or if the hostile patterns take 1 s or more.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import lrspec

PER_BLOCK = (
    "norm1.weight",
    "norm1.bias",
    "attn.q.weight",
    "attn.q.bias",
    "attn.k.weight",
    "attn.k.bias",
    "attn.v.weight",
    "attn.v.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
)


def make_names(n: int) -> list[str]:
    """``n`` names: an embedding, ``n // 16`` transformer blocks, a final norm and a head."""
    names = ["embed.tok.weight", "embed.pos.weight"]
    blocks = max(1, (n - 6) // len(PER_BLOCK))
    for i in range(blocks):
        names += [f"blocks.{i}.{p}" for p in PER_BLOCK]
    names += ["norm.weight", "norm.bias", "head.weight", "head.bias"]
    return names[:n] if len(names) > n else names


def make_spec() -> dict[str, Any]:
    """A spec with 50 patterns in all (groups + layer decay), globs and ``re:`` regexes."""
    groups: list[dict[str, Any]] = [
        {"name": "no_decay", "params": ["*.bias", "*norm*", "embed.pos.weight"], "weight_decay": 0.0},
        {"name": "embed", "params": ["embed.*"], "lr_mult": 0.1},
        {"name": "attn", "params": ["*.attn.q.*", "*.attn.k.*", "*.attn.v.*", "*.attn.proj.*"], "lr_mult": 0.5},
        {"name": "mlp", "params": ["re:blocks\\.[0-9]+\\.mlp\\.fc[12]\\.(weight|bias)"], "lr_mult": 0.8},
        {"name": "even_blocks_q", "params": ["re:blocks\\.[0-9]*[02468]\\.attn\\.q\\.weight"], "decay_mult": 2.0},
        {"name": "head", "params": ["head.*"], "lr": 1e-3, "schedule": {"type": "cosine", "decay_steps": 1000}},
        {"name": "frozen_stem", "params": ["blocks.0.*", "blocks.1.*"], "freeze": {"until_step": 100}},
        {"name": "frozen_embed", "params": ["embed.tok.*"], "freeze": True},
    ]
    # 32 more single-pattern rules: some globs on specific blocks, some regexes, a few optional
    for k in range(32):
        if k % 3 == 0:
            pattern = f"blocks.{k}.mlp.*"
        elif k % 3 == 1:
            pattern = f"re:blocks\\.{k}\\.(norm1|norm2)\\.weight"
        else:
            pattern = f"blocks.{k}?.attn.*.weight"
        groups.append({"name": f"rule{k}", "params": [pattern], "optional": True, "momentum": 0.9 if k % 2 else 0.8})
    layers = ["embed.*", "blocks.{i}.*", "norm.*", "head.*"]
    spec = {
        "version": 1,
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
        "schedule": {"type": "warmup", "steps": 100, "then": {"type": "cosine", "decay_steps": 10000}},
        "groups": groups,
        "layer_decay": {"rate": 0.9, "layers": layers},
    }
    count = sum(len(g["params"]) for g in groups) + len(layers)
    assert count == 50, count
    return spec


def baseline(spec_data: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """The obvious implementation: every name against every pattern, a settings dict per name."""
    groups = spec_data["groups"]
    opt = spec_data["optimizer"]
    rx: dict[str, re.Pattern[str]] = {}

    def matches(pattern: str, name: str) -> bool:
        if pattern.startswith("re:"):
            if pattern not in rx:
                rx[pattern] = re.compile(pattern[3:])
            return rx[pattern].fullmatch(name) is not None
        return fnmatch.fnmatchcase(name, pattern)

    layer_rx = [re.compile(fnmatch.translate(p).replace(re.escape("{i}"), "(?P<i>[0-9]+)").replace("\\{i\\}", "(?P<i>[0-9]+)")) for p in spec_data["layer_decay"]["layers"]]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        settings: dict[str, Any] = {"lr": opt["lr"], "weight_decay": opt["weight_decay"], "matched": []}
        for g in groups:
            if any(matches(p, name) for p in g["params"]):
                settings["matched"].append(g["name"])
                for key in ("lr", "weight_decay", "freeze", "schedule", "momentum"):
                    if key in g:
                        settings[key] = g[key]
                if "lr_mult" in g:
                    settings["lr"] = opt["lr"] * g["lr_mult"]
                if "decay_mult" in g:
                    settings["weight_decay"] = opt["weight_decay"] * g["decay_mult"]
        for j, lrx in enumerate(layer_rx):
            m = lrx.match(name)
            if m:
                settings["layer"] = (j, m.groupdict().get("i"))
                break
        out[name] = settings
    return out


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall-clock and median CPU time (process_time) of ``runs`` calls, in seconds.

    CPU time is what to compare on a shared machine, where wall-clock time also counts the
    time other processes hold the cores.
    """
    walls, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per size for lrspec (median reported)")
    parser.add_argument("--baseline-runs", type=int, default=3, help="runs per size for the baseline")
    args = parser.parse_args(argv)

    spec_data = make_spec()
    spec = lrspec.Spec.model_validate(spec_data)
    n_patterns = sum(len(g["params"]) for g in spec_data["groups"]) + len(spec_data["layer_decay"]["layers"])
    print(f"python {sys.version.split()[0]}, lrspec {lrspec.__version__}; spec: {n_patterns} patterns, "
          f"{len(spec_data['groups'])} groups, layer decay over {len(spec_data['layer_decay']['layers'])} patterns")
    print(f"{'names':>8} {'groups':>7} {'wall (s)':>9} {'cpu (s)':>8} {'us/name':>8} "
          f"{'baseline cpu (s)':>17} {'us/name':>8} {'speedup':>8}")
    per_name: dict[int, float] = {}
    ok = True
    for n in (1_000, 10_000, 100_000):
        names = make_names(n)
        plan = lrspec.resolve(spec, names)  # warm-up, and a sanity check
        assert len(plan.names) == len(names)
        wall, cpu = median_time(functools.partial(lrspec.resolve, spec, names), args.runs)
        _, base = median_time(functools.partial(baseline, spec_data, names), args.baseline_runs)
        per_name[n] = cpu / len(names)
        print(f"{len(names):>8} {len(plan.groups):>7} {wall:>9.4f} {cpu:>8.4f} {cpu / len(names) * 1e6:>8.2f} "
              f"{base:>17.4f} {base / len(names) * 1e6:>8.2f} {base / cpu:>7.1f}x")
        if n == 100_000 and cpu >= 1.0:
            ok = False
            print("FAIL: 100k names took 1 s of CPU or more")
    hostile = lrspec.Spec.model_validate(
        {
            "version": 1,
            "optimizer": {"type": "sgd"},
            "groups": [
                {"name": "stars", "params": ["*a" * 12 + "b"], "optional": True},
                {"name": "nested", "params": ["re:(a+)+b", "re:(a|aa)*c"], "optional": True},
            ],
        }
    )
    hostile_names = ["a" * 200 + str(k) for k in range(1000)]
    hostile_wall, hostile_cpu = median_time(functools.partial(lrspec.resolve, hostile, hostile_names), 3)
    print(f"hostile patterns, 1000 names of ~203 characters: {hostile_wall:.4f} s wall, {hostile_cpu:.4f} s CPU")
    if hostile_cpu >= 1.0:
        ok = False
        print("FAIL: hostile patterns took 1 s of CPU or more")
    growth = per_name[100_000] / per_name[10_000]
    print(f"linearity: CPU time per name at 100k / at 10k = {growth:.2f} (1.0 = perfectly linear)")
    if growth > 2.0:
        ok = False
        print("FAIL: time per name grows with the number of names")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
