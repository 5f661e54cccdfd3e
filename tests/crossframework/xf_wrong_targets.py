"""Deliberately wrong targets, registered in tests through the ``lrspec.targets`` entry-point
group, to show that ``lrspec.tools.verify`` catches a wrong mapping.

``KERAS_NATIVE_ADAM`` maps an Adam plan onto stock ``keras.optimizers.Adam`` with the spec's
lr, betas and eps: Keras adds epsilon after the bias correction (``eps_hat``), so its update
differs from torch's, by about 1 % for gradients of ~1e-6 (SEMANTICS.md section 1.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from lrspec.plan import Plan
from lrspec.targets import Target


class KerasNativeAdam(Target):
    """One stock Keras Adam per spec (single-group plans only)."""

    name = "keras-native-adam"
    extra = "tests"
    requires = ("tensorflow", "keras")
    verify_driver = "tf"

    def parameters(self, model: Any) -> Mapping[str, tuple[int, ...] | None]:
        return {v.path.replace("/", "."): tuple(v.shape) for v in model}

    def compile(self, plan: Plan, model: Any, **options: Any) -> Any:
        import keras

        assert plan.family == "adam" and len(plan.groups) == 1
        g = plan.groups[0]
        beta_1, beta_2 = g.hyperparameters["betas"]
        opt = keras.optimizers.Adam(learning_rate=g.lr, beta_1=beta_1, beta_2=beta_2, epsilon=g.hyperparameters["eps"])
        return SimpleNamespace(optimizer=opt, trainable_variables=list(model), plan=plan)


KERAS_NATIVE_ADAM = KerasNativeAdam()
