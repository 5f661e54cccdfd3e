"""Progress on stderr for long commands (``lrspec verify --steps 1000``, a long ``plot``).

:class:`Progress` is a callback ``progress(done, total)``: on a terminal it redraws one line
(``lrspec verify: 120/1000 updates (12%)``) at most ten times a second and erases it when
closed; on anything that is not a terminal (a file, a pipe, CI logs) it writes nothing at all,
so redirected output stays byte-for-byte what it was. Only ``isatty()`` of the stream decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

__all__ = ["Progress", "Stream"]


class Stream(Protocol):
    """What :class:`Progress` writes to (``sys.stderr``)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


def _is_terminal(stream: Stream | None) -> bool:
    if stream is None:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class Progress:
    """``progress(done, total)`` draws ``<label>: done/total <unit> (p%)`` on ``stream`` when
    it is a terminal (see the module docstring); ``interval`` is the least time between two
    redraws (the first and the last are always drawn). Use as a context manager or call
    :meth:`close` to erase the line."""

    def __init__(self, label: str, stream: Stream | None, *, unit: str = "updates", interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.unit = unit
        self.enabled = _is_terminal(stream)
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._last = -float("inf")
        self._width = 0

    def start(self, total: int, what: str = "starting") -> None:
        """Draw the first line (``<label>: starting``) before the first update."""
        self._draw(f"{self.label}: {what} ({total} {self.unit})")

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if done < total and now - self._last < self._interval:
            return
        self._last = now
        percent = 100 * done // total if total > 0 else 100
        self._draw(f"{self.label}: {done}/{total} {self.unit} ({percent}%)")

    def _draw(self, text: str) -> None:
        if not self.enabled or self._stream is None:
            return
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        try:
            self._stream.write("\r" + text + pad)
            self._stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def close(self) -> None:
        """Erase the progress line (a terminal only)."""
        if self.enabled and self._width and self._stream is not None:
            try:
                self._stream.write("\r" + " " * self._width + "\r")
                self._stream.flush()
            except (OSError, ValueError):
                pass
        self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
