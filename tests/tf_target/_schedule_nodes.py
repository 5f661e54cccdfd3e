"""One spec schedule node of every kind (and the nested ones), shared by the tests that compare a
target's schedule ops with :func:`lrspec.schedules.from_spec` (tf-v1 in ``test_tf_units.py``,
Keras on every backend in ``tests/keras_target``). Plain data: imports no framework."""

from __future__ import annotations

from typing import Any

SCHEDULE_NODES: list[dict[str, Any]] = [
    {"type": "constant", "value": 2.5},
    {"type": "exponential", "decay_rate": 0.96, "decay_steps": 3},
    {"type": "exponential", "decay_rate": 0.5, "decay_steps": 7, "staircase": True},
    {"type": "step", "step_size": 10, "gamma": 0.5},
    {"type": "multistep", "milestones": [10, 30], "gamma": 0.1},
    {"type": "piecewise", "boundaries": [5, 17], "values": [1.0, 0.3, 0.01]},
    {"type": "cosine", "decay_steps": 40, "min_mult": 0.01},
    {"type": "polynomial", "decay_steps": 40, "power": 2.0, "end_mult": 0.1},
    {"type": "linear", "start_mult": 0.1, "end_mult": 1.0, "steps": 10},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 10},
    {"type": "inverse_time", "decay_rate": 0.5, "decay_steps": 10, "staircase": True},
    {"type": "sequence", "boundaries": [5, 25], "schedules": [
        {"type": "linear", "start_mult": 0.01, "end_mult": 1.0, "steps": 5},
        {"type": "cosine", "decay_steps": 20},
        {"type": "constant", "value": 0.05}]},
    {"type": "warmup", "steps": 8, "start_mult": 0.0, "then": {"type": "exponential", "decay_rate": 0.9, "decay_steps": 2}},
]

SCHEDULE_TIMES: list[int] = [*range(60), 99, 1000]
"""The updates t at which every schedule is compared."""
