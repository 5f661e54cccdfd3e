"""Reading user files with bounds: regular files only, a size cap checked before reading.

A FIFO, a device (``/dev/zero``, also behind a symlink), a directory or a socket is refused
at once (the file is opened non-blocking, so a FIFO without a writer cannot hang the open);
a file larger than the cap is refused from its size, and at most ``cap + 1`` bytes are ever
read (a file that grows while being read is still bounded).
"""

from __future__ import annotations

import os
import stat

__all__ = ["FileRefused", "read_bounded_text"]


class FileRefused(ValueError):
    """The file cannot be used; the message says why (no file name: the caller adds it)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def read_bounded_text(path: str | os.PathLike[str], max_bytes: int, what: str) -> str:
    """The UTF-8 text of ``path``, a regular file of at most ``max_bytes`` bytes.

    Raises FileNotFoundError when it does not exist, :class:`FileRefused` for anything else
    (not a regular file, too large, not UTF-8, unreadable); ``what`` names the file's role
    in messages (``"spec file"``)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise FileRefused(f"is a directory, not a {what}") from None
    except OSError as exc:
        raise FileRefused(f"cannot read file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise FileRefused(f"is {kind}, not a {what}" if kind.startswith("a ") else f"is {kind}")
        if info.st_size > max_bytes:
            raise FileRefused(f"is too large ({_size(info.st_size)}; a {what} may have at most {_size(max_bytes)})")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise FileRefused(f"is too large (more than {_size(max_bytes)}, the most a {what} may have)")
    except OSError as exc:
        raise FileRefused(f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"cannot read file: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def json_too_deep_at(text: str, limit: int) -> int | None:
    """The 1-based line where JSON brackets (outside strings) first nest deeper than ``limit``,
    or None. Run before anything recursive reads the text, so deep nesting is an error, not a
    RecursionError."""
    depth = 0
    in_string = escaped = False
    line = 1
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return line
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1
    return None
