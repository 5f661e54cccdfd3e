"""Keeping the process's stderr readable: the two lines TensorFlow's C++ runtime prints at
import, whatever ``TF_CPP_MIN_LOG_LEVEL`` says, are filtered out (every other line passes)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

__all__ = ["TF_IMPORT_NOISE", "without_tf_import_noise"]

#: Lines TensorFlow's C++ runtime prints at import even with TF_CPP_MIN_LOG_LEVEL set (it
#: writes them before its logging is initialised). Only these exact lines are dropped.
TF_IMPORT_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\..*)\r?\n?$"
)


@contextlib.contextmanager
def without_tf_import_noise() -> Iterator[None]:
    """Route the process's stderr (fd 2) through a pipe whose reader forwards every line at
    once except :data:`TF_IMPORT_NOISE`. A no-op when stderr is not a real file descriptor."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                if not TF_IMPORT_NOISE.match(line):
                    os.write(saved, line)

    pump = threading.Thread(target=forward, name="lrspec-stderr", daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)  # closes the pipe's last write end: the reader sees EOF
        pump.join(timeout=5)
        os.close(saved)
