"""Stepping a whole :class:`~lrspec.Plan` with the reference rules: :class:`ReferenceOptimizer` and :func:`simulate`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from lrspec.errors import ResolveError
from lrspec.plan import Plan
from lrspec.reference.rules import init_state, update
from lrspec.reference.state import OptimizerState, as_float64

__all__ = ["ReferenceOptimizer", "simulate"]

Array = npt.NDArray[np.float64]
GradientMap = Mapping[str, npt.ArrayLike | None]


# ----------------------------------------------------------------------------------------
# A whole plan
# ----------------------------------------------------------------------------------------


class ReferenceOptimizer:
    """Steps every parameter of a :class:`~lrspec.Plan` as the compiled optimizers must.

    >>> opt = ReferenceOptimizer(plan, {"w": np.zeros(3)})   # doctest: +SKIP
    >>> opt.step({"w": np.ones(3)}); opt.params["w"], opt.t  # doctest: +SKIP

    At update ``t`` (= :attr:`t`, the updates applied so far) a parameter is skipped (no
    change, no state, no weight decay) when its gradient is missing or None, or when its
    group ``is_frozen_at(t)``. Otherwise it gets ``lr = group.lr_at(t)``,
    ``group.weight_decay`` and ``group.hyperparameters``; its state is created fresh at the
    first update it actually takes. Each group is stepped with its own family
    (``group.family``, else the plan's optimizer type).

    ``run_dtype`` (``"float64"``, the default, or ``"float32"``): the dtype of the run the
    reference stands for; the arithmetic is float64 either way (see
    :func:`lrspec.reference.rules.update`: it decides adafactor's ``eps1 = None``).
    """

    def __init__(self, plan: Plan, initial_params: Mapping[str, npt.ArrayLike], run_dtype: str = "float64") -> None:
        if run_dtype not in ("float32", "float64"):
            raise ValueError(f"run_dtype must be 'float32' or 'float64', got {run_dtype!r}")
        self.plan = plan
        self.run_dtype = run_dtype
        self.t = 0
        self._params: dict[str, Array] = _initial(plan, initial_params)
        self._states: dict[str, OptimizerState] = {}

    @property
    def params(self) -> dict[str, Array]:
        """Copies of the current parameter values, by name (plan order)."""
        return {n: p.copy() for n, p in self._params.items()}

    @property
    def states(self) -> dict[str, OptimizerState]:
        """Copies of the state of every parameter that has taken an update."""
        return {n: s.copy() for n, s in self._states.items()}

    def state(self, name: str) -> OptimizerState | None:
        """A copy of ``name``'s state, or None if it has never been updated."""
        self._check_name(name)
        s = self._states.get(name)
        return None if s is None else s.copy()

    def _check_name(self, name: str) -> None:
        if name not in self._params:
            raise ResolveError(f"{name!r} is not a parameter of this plan")

    def step(self, gradients: GradientMap) -> None:
        """Apply update ``t`` with ``gradients`` (name -> array or None), then ``t += 1``."""
        grads = self._checked_gradients(gradients)
        plan, t = self.plan, self.t
        for name, grad in grads.items():
            group = plan.group_of(name)
            if group.is_frozen_at(t):
                continue
            family = getattr(group, "family", "") or plan.family
            state = self._states.get(name)
            if state is None:
                state = init_state(family, self._params[name], group.hyperparameters)
                self._states[name] = state
            self._params[name] = update(
                family,
                self._params[name],
                grad,
                state,
                lr=group.lr_at(t),
                weight_decay=group.weight_decay,
                hyperparameters=group.hyperparameters,
                run_dtype=self.run_dtype,
            )
        self.t += 1

    def _checked_gradients(self, gradients: GradientMap) -> dict[str, Array]:
        if not isinstance(gradients, Mapping):
            raise TypeError(
                f"gradients at update {self.t} must be a mapping name -> array, got {type(gradients).__name__}"
            )
        out: dict[str, Array] = {}
        for name, grad in gradients.items():
            if name not in self._params:
                raise ResolveError(f"gradient at update {self.t} for {name!r}, which is not a parameter of the plan")
            if grad is None:
                continue
            g = as_float64(grad)
            if g.shape != self._params[name].shape:
                raise ResolveError(
                    f"gradient at update {self.t} for {name!r} has shape {g.shape}, "
                    f"the parameter has shape {self._params[name].shape}"
                )
            out[name] = g
        return out


def _initial(plan: Plan, initial_params: Mapping[str, npt.ArrayLike]) -> dict[str, Array]:
    """float64 copies of the initial values, checked against the plan's names and shapes."""
    known = set(plan.names)
    extra = [n for n in initial_params if n not in known]
    if extra:
        raise ResolveError(
            f"initial_params has names that are not parameters of the plan: {', '.join(map(repr, extra))}"
        )
    params: dict[str, Array] = {}
    for name in plan.names:
        if name not in initial_params:
            raise ResolveError(f"initial_params has no value for parameter {name!r}")
        value = as_float64(initial_params[name])
        shape = plan.param(name).shape
        if shape is not None and tuple(shape) != value.shape:
            raise ResolveError(f"initial value of {name!r} has shape {value.shape}, the plan says {tuple(shape)}")
        params[name] = value
    return params


def simulate(
    plan: Plan,
    initial_params: Mapping[str, npt.ArrayLike],
    gradients: Sequence[GradientMap],
    run_dtype: str = "float64",
) -> list[dict[str, Array]]:
    """Run ``len(gradients)`` updates of ``plan`` in float64, as torch.optim defines them.

    ``initial_params`` maps every plan name to an array (float64 copies are taken);
    ``gradients[t]`` maps names to the gradient of update ``t`` (missing or None: that
    parameter is skipped at that update). Returns ``N + 1`` snapshots: index 0 holds the
    initial values, index ``k`` the values after ``k`` updates. See
    :class:`ReferenceOptimizer` for freezes, schedules and state. Raises
    :class:`lrspec.ResolveError` (a ValueError) naming the parameter for a gradient of an
    unknown name, a missing or extra initial value, or a shape mismatch. ``run_dtype``: see
    :class:`ReferenceOptimizer`.
    """
    opt = ReferenceOptimizer(plan, initial_params, run_dtype)
    snapshots = [opt.params]
    for grads in gradients:
        opt.step(grads)
        snapshots.append(opt.params)
    return snapshots
