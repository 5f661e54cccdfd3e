"""A third-party target written only against lrspec's public protocol (``lrspec.targets.Target``).

Its "framework" is a toy: a :class:`ToyModel` holds named NumPy float32 arrays, and its
optimizer applies plain SGD with weight decay, ``p -= lr_t * (g + wd * p)``, where ``lr_t`` is
the plan's ``Plan.lr(name, t)``. It names parameters with ``/`` separators, which its
:meth:`ToyTarget.canonical_name` maps to lrspec's ``.``. Model files are ``.toy`` JSON files
``{"name/with/slashes": [shape...]}``. It emits no code (the base class's refusal).

The tests register it through (patched) ``lrspec.targets`` entry points, the way a package
would in its ``pyproject.toml``; nothing in lrspec knows it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from lrspec import Plan, TargetError
from lrspec.targets import Array, ParamShapes, Target, VerifyDriver


class ToyModel:
    """Named float32 arrays, with the toy framework's ``/`` separators."""

    def __init__(self, arrays: Mapping[str, Any]):
        self.arrays = {k: np.asarray(v, dtype=np.float32).copy() for k, v in arrays.items()}


class ToySGD:
    """SGD with coupled weight decay, stepping the plan's lr (0 while frozen)."""

    def __init__(self, plan: Plan, model: ToyModel, canonical: Mapping[str, str]):
        self.plan, self.model, self.canonical, self.t = plan, model, canonical, 0

    def step(self, grads: Mapping[str, Array]) -> None:
        for native, p in self.model.arrays.items():
            name = self.canonical[native]
            g = grads.get(name)
            group = self.plan.group_of(name)
            if g is None or group.is_frozen_at(self.t):
                continue
            lr = self.plan.lr(name, self.t)
            p -= np.float32(lr) * (g.astype(np.float32) + np.float32(group.weight_decay) * p)
        self.t += 1


class ToyDriver:
    """lrspec verify's driver for the toy target."""

    def __init__(self, target: ToyTarget, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]):
        self.model = ToyModel({n.replace(".", "/"): a for n, a in init.items()})
        self.optimizer = target.compile(plan, self.model, **options)

    def step(self, grads: Mapping[str, Array]) -> None:
        self.optimizer.step(grads)

    def values(self) -> dict[str, Array]:
        return {n.replace("/", "."): a.copy() for n, a in self.model.arrays.items()}

    def close(self) -> None:
        pass


class ToyTarget(Target):
    name = "toy"
    extra = "lrspec-toy"
    requires = ("numpy",)
    model_description = "a ToyModel"
    model_suffixes = (".toy",)

    def canonical_name(self, native_name: str) -> str:
        return native_name.replace("/", ".")

    def parameters(self, model: Any) -> ParamShapes:
        if not isinstance(model, ToyModel):
            raise TargetError(f"the toy target needs a ToyModel, got {type(model).__name__}")
        return {self.canonical_name(n): tuple(a.shape) for n, a in model.arrays.items()}

    def accepts(self, model: Any) -> bool:
        return isinstance(model, ToyModel)

    def compile(self, plan: Plan, model: Any, **options: Any) -> ToySGD:
        if options:
            raise TargetError(f"the toy target takes no options, got {', '.join(options)}")
        if plan.family != "sgd":
            raise TargetError(f"the toy target implements sgd only, not {plan.family}")
        return ToySGD(plan, model, {n: self.canonical_name(n) for n in model.arrays})

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        return ToyDriver(self, plan, init, options)

    def read_model_file(self, path: str) -> ParamShapes:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return {self.canonical_name(n): tuple(int(d) for d in shape) for n, shape in data.items()}


TARGET = ToyTarget()


def toy_model() -> ToyModel:
    """The model ``--model lrspec_toy_target:toy_model`` builds."""
    return ToyModel({"body/w": np.ones((3, 2)), "body/b": np.zeros(2), "head/w": np.ones((2, 1))})
