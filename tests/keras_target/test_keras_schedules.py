"""The ``keras`` target's schedules equal lrspec's definition on the TensorFlow backend (eager and
``tf.function``); JAX and torch run the same check in the backend worker (``schedules``)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("keras")

import keras_schedule_check as C


@pytest.mark.parametrize("node", C.SCHEDULE_NODES, ids=[n["type"] for n in C.SCHEDULE_NODES])
def test_keras_schedule_ops_match_core_schedules(node: dict[str, Any]) -> None:
    C.check(node)
