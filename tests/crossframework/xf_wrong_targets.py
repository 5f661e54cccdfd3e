"""Deliberately wrong targets, registered in tests through the ``lrspec.targets`` entry-point
group, to show that ``lrspec.tools.verify`` catches a wrong mapping.

``KERAS_NATIVE_ADAM`` maps an Adam plan onto stock ``keras.optimizers.Adam`` with the spec's
lr, betas and eps: Keras adds epsilon after the bias correction (``eps_hat``), so its update
differs from torch's, by about 1 % for gradients of ~1e-6 (SEMANTICS.md section 1.2). It is
driven by the tf adapter's :class:`lrspec_keras.verify_driver.KerasDriver`, which it passes itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from lrspec.plan import Plan
from lrspec.targets import Array, Target, VerifyDriver


class KerasNativeAdam(Target):
    """One stock Keras Adam per spec (single-group plans only)."""

    name = "keras-native-adam"
    extra = "tests"
    requires = ("tensorflow", "keras")

    def parameters(self, model: Any) -> Mapping[str, tuple[int, ...] | None]:
        return {v.path.replace("/", "."): tuple(v.shape) for v in model}

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        import keras

        assert plan.family == "adam" and len(plan.groups) == 1
        g = plan.groups[0]
        beta_1, beta_2 = g.hyperparameters["betas"]
        opt = keras.optimizers.Adam(learning_rate=g.lr, beta_1=beta_1, beta_2=beta_2, epsilon=g.hyperparameters["eps"])
        return SimpleNamespace(optimizer=opt, trainable_variables=list(model), plan=plan)

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        from lrspec_keras.verify_driver import KerasDriver

        return KerasDriver(self, plan, init, options)


KERAS_NATIVE_ADAM = KerasNativeAdam()


class NoDriver(Target):
    """A target lrspec verify cannot drive: it keeps the base ``verify_driver`` (a TargetError)."""

    name = "no-driver"
    extra = "tests"

    def parameters(self, model: Any) -> Mapping[str, tuple[int, ...] | None]:
        return dict(model)

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        raise AssertionError("verify must not compile a target without a driver")


class BrokenDriver(NoDriver):
    """A target whose driver fails while it is built (anything but a TargetError: an "error")."""

    name = "broken-driver"

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        raise RuntimeError("the framework exploded")


NO_DRIVER = NoDriver()
BROKEN_DRIVER = BrokenDriver()


class Float32Inside(Target):
    """The real torch target, but computing in float32 whatever ``dtype`` verify asks for, and
    handing back float64 values: exact at float32 roundoff, so ``dtype="float32"`` passes it,
    and only the float64 proof mode (1e-10) shows that it is not exact."""

    name = "float32-inside"
    extra = "tests"
    requires = ("torch",)

    def parameters(self, model: Any) -> Mapping[str, tuple[int, ...] | None]:
        import lrspec

        return lrspec.get_target("torch").parameters(model)

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        import lrspec

        return lrspec.get_target("torch").compile(plan, model, **options)

    def verify_driver(self, plan: Plan, init: Mapping[str, Array], options: Mapping[str, Any]) -> VerifyDriver:
        import numpy as np
        from lrspec_torch.verify_driver import TorchDriver

        wanted = np.dtype(options.get("dtype", "float32"))
        driver = TorchDriver(self, plan, init, {k: v for k, v in options.items() if k != "dtype"})
        values = driver.values
        driver.values = lambda: {n: a.astype(wanted) for n, a in values().items()}  # type: ignore[method-assign]
        return driver


FLOAT32_INSIDE = Float32Inside()
