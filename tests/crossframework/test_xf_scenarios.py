"""The headline promise, proven on real models: every scenario's spec trains identically in
PyTorch, Keras 3 (default strategy, and gradient scaling where the compiler allows it), a
tf.compat.v1 graph and JAX (a Flax twin with ``target="optax"``), and every target equals
``lrspec.reference`` fed its own gradients.

See xf_harness.py for the metrics and docs/crossframework.md for what this proves.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import xf_harness as H

pytestmark = pytest.mark.usefixtures("xf_frameworks")

GRADIENT_SCALE_EXPECTED = {
    # the compiler allows strategy="gradient-scale" exactly where it is exact: sgd (with or
    # without momentum), no weight decay, one shared schedule -- or any family when every
    # parameter has the same lr (a multiplier of 1 is exact), as in scenarios 3a/3b
    "1-finetune_cnn": False,
    "2a-pretrained_convnet_sgd": True,
    "2b-pretrained_convnet_momentum": True,
    "3a-exponential_decay": True,
    "3b-exponential_decay_smooth": True,
    "4-lenet_features_classifier": True,
    "5a-retrain_last_layer": True,
    "5b-retrain_last_two_layers": True,
    "6-transformer_llrd": False,
    "7-gradual_unfreeze": False,
}


@pytest.mark.parametrize("scenario", H.SCENARIOS, ids=lambda s: s.id)
def test_scenario_trains_identically(scenario: H.Scenario, xf_record: Callable[[str], None]) -> None:
    with_optax = H.optax_available()
    res = H.run_scenario(scenario, with_optax=with_optax)
    stats = res["stats"]
    lines = [
        f"{scenario.id:<32} {label:<18} cross {st.cross_rel:.1e} (elementwise {st.cross_max_rel:.1e}, "
        f"abs {st.cross_abs:.1e})  ref {st.ref_rel_final:.1e} of moved, budget {st.ref_budget:.2f}"
        f"  frozen checks {st.frozen_checked}"
        for label, st in stats.items()
    ]
    if res["optax_impl"]:
        lines.append(f"{scenario.id:<32} optax              built with {res['optax_impl']}")
    if not with_optax:
        lines.append(f"{scenario.id:<32} optax              not run: jax, optax or flax not installed")
    if res["refusal"]:
        lines.append(f"{scenario.id:<32} tf-gradient-scale  refused: {res['refusal'].splitlines()[0][:90]}")
    lines.append(f"{scenario.id:<32} (cross tolerance {res['cross_tol']:g}; {res['seconds']:.1f} s)")
    for line in lines:
        xf_record(line)
    print("\n".join(lines))

    failures = [f for st in stats.values() for f in st.failures]
    assert not failures, "\n".join(failures[:20])

    # every target resolved the spec to the same groups, with the same settings and the same
    # parameters (its names mapped to torch's): the framework-neutral patterns select alike.
    # Keyed by group name: a plan lists groups in its parameters' order, and a Flax state
    # orders them by name (``classifier`` before ``features``).
    torch_plan = res["plans"]["torch"]

    def groups(label: str) -> dict[str, tuple[object, ...]]:
        to_torch = res["torch_names"][label]
        return {
            g.name: (g.lr, g.weight_decay, g.frozen, g.frozen_until, sorted(to_torch[n] for n in g.params))
            for g in res["plans"][label].groups
        }

    for label in res["plans"]:
        assert groups(label) == groups("torch"), label

    # gradient scaling: compiled exactly where it is exact, refused with a reason elsewhere
    allowed = GRADIENT_SCALE_EXPECTED[scenario.id]
    assert ("tf-gradient-scale" in stats) == allowed, res["refusal"]
    if not allowed:
        assert "gradient-scale" in res["refusal"] and "default" in res["refusal"], res["refusal"]

    # frozen parameters were checked bitwise where the spec freezes anything
    if torch_plan.frozen_params or any(g.frozen_until for g in torch_plan.groups):
        assert all(st.frozen_checked > 0 for st in stats.values())
    # the tf-v1 train op advanced global_step once per update
    assert res["v1_global_step"] == H.STEPS
    # every parameter that trains moved (the comparison is not vacuous)
    assert all(st.ref_rel_final > 0 or st.ref_budget > 0 for st in stats.values())


@pytest.mark.slow
@pytest.mark.parametrize("scenario", H.F64_SCENARIOS, ids=lambda s: s.id)
def test_scenario_float64_proof(scenario: H.Scenario, xf_record: Callable[[str], None]) -> None:
    """The float64 proof: models, data and optimizers in float64 in torch, Keras, tf-v1 and
    optax/Flax; every target equals the reference fed its own gradients to 1e-10 of the
    distance moved (+ k * 2^-53 * max|p|) and torch to 1e-10 norm-relative, at every one of
    the 50 updates. (gradient-scale is a float32 strategy question, checked above.)"""
    res = H.run_scenario(scenario, with_optax=H.optax_available(), dtype="float64", gradient_scale=False)
    stats = res["stats"]
    assert res["bounds"] == H.Bounds(1e-10, 2.0**-53, 1e-10)
    lines = [
        f"{scenario.id + ' f64':<32} {label:<18} cross {st.cross_rel:.1e} (elementwise {st.cross_max_rel:.1e}, "
        f"abs {st.cross_abs:.1e})  ref {st.ref_rel_final:.1e} of moved, budget {st.ref_budget:.2f}"
        for label, st in stats.items()
    ]
    lines.append(f"{scenario.id + ' f64':<32} (model {scenario.model}; bounds 1e-10; {res['seconds']:.1f} s)")
    for line in lines:
        xf_record(line)
    print("\n".join(lines))
    failures = [f for st in stats.values() for f in st.failures]
    assert not failures, "\n".join(failures[:20])
    assert set(stats) >= {"torch", "tf", "tf-v1"}
    assert res["v1_global_step"] == H.STEPS
    # every target was compared at every update (an exact 0.0 is fine: sgd in float64 often is)
    assert all(st.ref_rel_final == st.ref_rel_final for st in stats.values())  # not NaN
