"""``lrspec verify``: check that every installed target applies a spec exactly as the reference does.

For users porting a recipe between frameworks. :func:`verify` needs no model: it resolves the
spec against parameter names and shapes, builds synthetic float32 parameters with those names
in each target's framework, feeds every target's compiled optimizer and
:func:`lrspec.reference.simulate`'s float64 optimizer the same seeded random gradients for
``steps`` updates, and compares after every update.

What is compared, per target and per plan group, after every update ``k`` (1 ... steps):

* ``abs``: the largest ``|p_target - p_reference|`` over the group's parameters;
* ``moved``: the largest ``|p_reference - p_initial|`` (the distance the group moved);
* ``rel = abs / moved`` (``inf`` when the reference did not move but the target did).

The update is *divergent* when ``abs > tolerance * moved + floor``, where
``floor = k * 2**-24 * max|p_reference|`` bounds float32 storage rounding (half an ulp per
update). Parameters frozen for every update so far (permanent freezes, and ``until_step``
freezes before their step) must be bitwise unchanged: any change is divergent. The report
gives, per group, the largest ``abs`` and ``rel`` over all updates and the first update
(0-based ``t``, as in the spec: the update that produced the divergent values) that diverged.

Synthetic data, chosen so that float32 roundoff stays well below the tolerance while
mapping mistakes show: initial values ``N(0, 1) * min(1, 100 * group lr)`` (small values
relative to the steps, so weight decay still matters and float32 resolution does not hide a
step); gradients ``N(0, 1) * 10**u`` with a per-element ``u ~ U(-6, 0)`` fixed for the run, so
some elements have tiny gradients (~1e-6, which exposes epsilon conventions) and others large
ones. Every family lrspec supports is elementwise, so a parameter with more than
``max_elements`` elements is represented by a 1-D parameter of ``max_elements`` elements
(the names, groups and every setting are unchanged).

Each target drives itself: :meth:`lrspec.targets.Target.verify_driver` builds a
:class:`lrspec.targets.VerifyDriver` (synthetic parameters of its framework, its compiled
optimizer, stepped as a training loop steps it), so a framework is imported only when its
target is driven, and this package names none. A target without a driver (its
``verify_driver`` raises :class:`lrspec.TargetError`) is reported as ``"skipped"`` with that
message; any other exception while building or stepping a driver is that target's
``"error"``. A third-party target can reuse an adapter's driver by passing itself to it.

Modules: :mod:`~lrspec.tools.verify.inputs` (parameter lists, synthetic data),
:mod:`~lrspec.tools.verify.compare` (per-group divergence), :mod:`~lrspec.tools.verify.runner`
(:func:`verify`), :mod:`~lrspec.tools.verify.report` (results and :func:`format_report`).
"""

from lrspec.tools.verify.compare import DEFAULT_TOLERANCE
from lrspec.tools.verify.report import GroupDivergence, TargetResult, VerifyReport, format_report
from lrspec.tools.verify.runner import verify

__all__ = ["DEFAULT_TOLERANCE", "GroupDivergence", "TargetResult", "VerifyReport", "format_report", "verify"]
