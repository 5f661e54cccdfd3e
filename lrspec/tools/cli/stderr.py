"""Keeping the process's stderr readable: the two lines TensorFlow's C++ runtime prints at
import, whatever ``TF_CPP_MIN_LOG_LEVEL`` says, are filtered out (every other line passes)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

__all__ = ["TF_IMPORT_NOISE", "progress_stream", "without_tf_import_noise"]

#: Lines TensorFlow's C++ runtime prints at import even with TF_CPP_MIN_LOG_LEVEL set (it
#: writes them before its logging is initialised). Only these exact lines are dropped.
TF_IMPORT_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\..*)\r?\n?$"
)


#: The process's real stderr while :func:`without_tf_import_noise` routes fd 2 through its pipe.
_REAL_STDERR: list[int] = []


class _FdStream:
    """Text written straight to a file descriptor (the real stderr, past the line filter,
    so a progress line without a newline shows at once)."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, text: str) -> int:
        os.write(self.fd, text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return os.isatty(self.fd)


def progress_stream(err: TextIO) -> TextIO | _FdStream:
    """Where progress lines go: the real stderr when :func:`without_tf_import_noise` is
    filtering it (its pipe is not a terminal, the real one may be), else ``err``."""
    if _REAL_STDERR and err is sys.stderr:
        return _FdStream(_REAL_STDERR[-1])
    return err


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
    _REAL_STDERR.append(saved)
    try:
        yield
    finally:
        _REAL_STDERR.pop()
        sys.stderr.flush()
        os.dup2(saved, fd)  # closes the pipe's last write end: the reader sees EOF
        pump.join(timeout=5)
        os.close(saved)
