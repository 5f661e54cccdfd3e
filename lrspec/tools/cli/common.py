"""Helpers the commands share: target names, loading specs and parameter lists, resolving,
and writing output.

Output files (every ``-o FILE`` of the command line) go through :func:`output_path` and
:func:`write_file`: the name is checked exactly as it will be written (no suffix is ever
appended behind the user's back: ``plot -o FILE`` needs an image suffix), a folder is refused,
an existing file is kept unless ``--force``, and the file is written atomically (a temporary
file in the same folder, then renamed over the target), so a failed write loses nothing.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TextIO

from lrspec.errors import ResolveError, SpecError
from lrspec.tools.cli.errors import UsageError, UserError, located

__all__ = [
    "IMAGE_SUFFIXES",
    "SafeStdout",
    "StdoutError",
    "check_target",
    "json_chunks",
    "json_safe",
    "json_text",
    "load_spec",
    "output_path",
    "read_params",
    "resolve",
    "target_names",
    "write_file",
    "write_output",
]

#: Image formats ``lrspec plot -o FILE`` writes, chosen by FILE's suffix (required).
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def target_names() -> list[str]:
    """Every known target name (built-in and plugins), without importing a framework."""
    from lrspec.targets import available_targets

    return [t.name for t in available_targets()]


def check_target(name: str, prog: str) -> str:
    """``name`` when it is a known target, else a :class:`UsageError` with a suggestion."""
    known = target_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"{prog}: unknown target {name!r}{hint}; known targets: {', '.join(known)}")
    return name


def load_spec(path: str) -> Any:
    """The spec in ``path``; problems without a position are reported at ``path``."""
    from lrspec.spec.loader import load

    with located(path, SpecError):
        return load(path)


def read_params(path: str) -> dict[str, Any]:
    """The parameter list in ``path`` (:func:`lrspec.tools.paramfile.read_params`)."""
    from lrspec.tools.paramfile import read_params as read

    return read(path)


def resolve(spec: Any, params: Any, spec_path: str) -> Any:
    """The plan of ``spec`` for ``params``; resolution problems are reported at ``spec_path``."""
    from lrspec.resolve import resolve as resolve_spec

    with located(spec_path, ResolveError):
        return resolve_spec(spec, params)


def output_path(out: str, force: bool, *, suffixes: tuple[str, ...] | None = None) -> Path:
    """The path ``-o out`` will write, checked as it will be written: with ``suffixes``, the
    name must end in one of them (case-insensitive; nothing is appended); a folder is refused;
    an existing file is refused unless ``force``. Raises :class:`UserError` located at ``out``."""
    path = Path(out)
    if suffixes is not None and not out.lower().endswith(suffixes):
        raise UserError(
            out, f"the file name must end in the image format's suffix: {', '.join(suffixes)} (nothing is appended)"
        )
    if path.is_dir() or out.endswith(("/", os.sep)):
        raise UserError(out, "is a folder; give a file name")
    if (path.exists() or path.is_symlink()) and not force:
        raise UserError(out, "the file exists; use --force to overwrite it")
    if path.exists() and not path.is_file():
        raise UserError(out, "is not a regular file; refusing to overwrite it")
    return path


def write_file(path: Path, write: Callable[[IO[bytes]], None], where: str) -> None:
    """Write ``path`` atomically: ``write`` fills a temporary file in the same folder, which is
    then renamed over ``path``; on any failure the temporary file is removed and ``path`` is
    untouched. OS errors become a :class:`UserError` at ``where``."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UserError(where, f"cannot write the file: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise UserError(where, f"cannot write the file: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def write_output(text: str | Iterator[str], out: str | None, force: bool, stdout: TextIO) -> None:
    """Print ``text`` (a string or chunks of one) or write it to ``out`` (see
    :func:`output_path`; refusing to overwrite unless ``force``). A newline ends the output."""
    chunks = [text] if isinstance(text, str) else text

    def emit(put: Callable[[str], Any]) -> None:
        last = ""
        for chunk in chunks:
            if chunk:
                put(chunk)
                last = chunk
        if not last.endswith("\n"):
            put("\n")

    if out is None or out == "-":
        emit(stdout.write)
        return
    path = output_path(out, force)
    write_file(path, lambda fh: emit(lambda s: fh.write(s.encode("utf-8"))), out)


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float written as a string (``"inf"``, ``"-inf"``,
    ``"nan"``), so the document is strict JSON (docs/cli.md)."""
    if isinstance(data, float):
        if math.isfinite(data):
            return data
        return "nan" if math.isnan(data) else ("inf" if data > 0 else "-inf")
    if isinstance(data, Mapping):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data


def _is_lazy(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping, list, tuple))


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def _json_escape(text: str) -> str:
    """JSON text with the characters a terminal acts on (DEL, C1 controls, bidirectional and
    zero-width format characters) written as ``\\uXXXX`` escapes (json escapes C0 itself)."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _dumps(value: Any, level: int) -> str:
    import json

    text = _json_escape(json.dumps(json_safe(value), indent=2, ensure_ascii=False, allow_nan=False))
    return text.replace("\n", "\n" + "  " * level) if level else text


def _encode(value: Any, level: int) -> Iterator[str]:
    """The JSON text of ``value`` as ``json.dumps(value, indent=2)`` writes it at nesting
    ``level``; an iterable that is not a list, tuple or mapping is written as a list, one
    element at a time (never held whole)."""
    import json

    pad = "  " * (level + 1)
    if isinstance(value, Mapping) and any(_is_lazy(v) for v in value.values()):
        yield "{"
        first = True
        for key, item in value.items():
            yield ("\n" if first else ",\n") + pad + _json_escape(json.dumps(str(key), ensure_ascii=False)) + ": "
            yield from _encode(item, level + 1)
            first = False
        yield ("\n" + "  " * level + "}") if not first else "}"
    elif _is_lazy(value):
        first = True
        for item in value:
            yield ("[\n" if first else ",\n") + pad
            yield from _encode(item, level + 1)
            first = False
        yield "[]" if first else "\n" + "  " * level + "]"
    else:
        yield _dumps(value, level)


def json_chunks(data: Any) -> Iterator[str]:
    """``data`` as the CLI's JSON documents are printed (indented, key order kept, strict JSON:
    non-finite floats as strings, :func:`json_safe`), in chunks. Iterables that are not
    lists, tuples or mappings (generators of rows) are written as lists element by element, so a
    large document is never held whole, as data or as text."""
    buf: list[str] = []
    size = 0
    for part in _encode(data, 0):
        buf.append(part)
        size += len(part)
        if size >= 1 << 16:
            yield "".join(buf)
            buf, size = [], 0
    buf.append("\n")
    yield "".join(buf)


def json_text(data: Any) -> str:
    """``data`` as the CLI's JSON documents are printed (:func:`json_chunks`, as one string)."""
    return "".join(json_chunks(data))


class StdoutError(UserError):
    """Our standard output cannot be written (closed, a full disk, ``/dev/full``)."""


class SafeStdout:
    """The command's standard output: a write or flush that fails becomes one
    :class:`StdoutError` (``Error: stdout: cannot write the output: ...``) instead of an
    ``OSError`` traceback; a closed stdout (``None``, ``>&-``) likewise. A broken pipe
    (``lrspec ... | head``) is passed on as :class:`BrokenPipeError`, which ends quietly."""

    def __init__(self, stream: TextIO | None):
        self._stream = stream

    def _fail(self, exc: BaseException | None) -> StdoutError:
        why = "it is closed" if exc is None else (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
        return StdoutError("stdout", f"cannot write the output: {why}")

    def write(self, text: str) -> int:
        if self._stream is None:
            raise self._fail(None)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: I/O operation on closed file
            raise self._fail(exc) from None

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            raise self._fail(exc) from None

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False
