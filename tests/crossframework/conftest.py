"""Cross-framework suite: shared setup and the printed summary of measured maxima.

Every scenario records its measured maxima with the ``xf_record`` fixture; they are printed
as a table at the end of the run (in the terminal summary, so they show without ``-s``).
Framework thread pools are pinned to one thread: on a 2-core machine shared with other
processes, torch's default of one thread per core made each update up to 30x slower.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_ROWS = pytest.StashKey[list[str]]()


def _pin_threads() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except (ImportError, RuntimeError):  # RuntimeError: TF was initialised already
        pass


@pytest.fixture(scope="session")
def xf_frameworks() -> None:
    """Skip unless torch, TensorFlow and Keras are installed; pin their thread pools."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    _pin_threads()


@pytest.fixture
def xf_record(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add a line to the summary printed at the end of the run."""
    rows = request.config.stash.setdefault(_ROWS, [])
    return rows.append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(_ROWS, [])
    if rows:
        terminalreporter.section("cross-framework maxima (lrspec)")
        for row in rows:
            terminalreporter.write_line(row)
