"""Per-task capture of stdout and stderr while tasks share one process.

``sys.stdout`` and ``sys.stderr`` are replaced, once, by proxies that write to
the capture of the task running in the current context and to the real stream
otherwise. The capture is a context variable, so:

- async steps and sync steps (anyio's worker threads copy the context) are
  captured, each into its own task's logs, however their output interleaves;
- a thread the step starts itself does *not* inherit the context: its output
  goes to the real streams, unless it runs in a copy of the step's context,
  ``threading.Thread(target=contextvars.copy_context().run, args=(fn,))``
  (output after the task has ended is dropped from its logs);
- ``logging``: a ``StreamHandler`` writing to ``sys.stdout``/``sys.stderr`` is
  pointed at the proxy when the proxies are installed (handlers made later get
  the proxy anyway), so records logged inside a task land in its stdout/stderr
  and records logged elsewhere still reach the terminal; handlers writing to
  files are left alone;
- ``sys.stdout.buffer`` is captured too, its bytes decoded by the stream's
  encoding (bytes that do not decode, and lone surrogates in text, become U+FFFD,
  so any output can be stored and shown); writes that bypass ``sys.stdout``
  (``os.write(1, ...)``, C extensions) are not captured.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any, TextIO

__all__ = [
    "LineSink",
    "TaskCapture",
    "capture_suspended",
    "install_proxies",
    "real_stream",
    "resume_capture",
    "start_capture",
    "stop_capture",
    "suspend_capture",
]

LineSink = Callable[[str, str], None]

#: Lone surrogates (``surrogateescape``'d bytes, say): no store or terminal encodes them.
_SURROGATES = re.compile("[\ud800-\udfff]")


def _storable(text: str) -> str:
    if text.isascii() or not _SURROGATES.search(text):
        return text
    return _SURROGATES.sub("\ufffd", text)


class TaskCapture:
    """The stdout and stderr text of one task attempt; whole lines go to ``on_line``."""

    def __init__(self, on_line: LineSink | None = None) -> None:
        self._on_line = on_line
        self._parts: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._pending: dict[str, str] = {"stdout": "", "stderr": ""}
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}
        self._lock = threading.Lock()

    def write(self, stream: str, text: str) -> None:
        """Record ``text`` written to ``stream``."""
        with self._lock:
            lines = self._add(stream, self._undecoded(stream) + _storable(text))
        self._emit(stream, lines)

    def write_bytes(self, stream: str, data: bytes, encoding: str) -> None:
        """Record ``data`` written to ``stream``'s buffer, decoded by ``encoding`` (a
        character split between two writes is kept whole)."""
        with self._lock:
            decoder = self._decoders.get(stream)
            if decoder is None:
                decoder = codecs.getincrementaldecoder(encoding)("replace")
                self._decoders[stream] = decoder
            lines = self._add(stream, decoder.decode(data))
        self._emit(stream, lines)

    def _undecoded(self, stream: str) -> str:
        """The rest of a character the buffer began, ended as text is written after it."""
        decoder = self._decoders.pop(stream, None)
        return decoder.decode(b"", final=True) if decoder is not None else ""

    def _add(self, stream: str, text: str) -> list[str]:
        """Keep ``text``; the whole lines it ends (called under the lock)."""
        if not text:
            return []
        self._parts[stream].append(text)
        lines = (self._pending[stream] + text).split("\n")
        self._pending[stream] = lines.pop()
        return lines

    def _emit(self, stream: str, lines: list[str]) -> None:
        if self._on_line:
            for line in lines:
                self._on_line(stream, line)

    def flush(self) -> None:
        """Emit any unterminated last line."""
        if not self._decoders and not self._pending["stdout"] and not self._pending["stderr"]:
            return  # nothing unterminated (most tasks print nothing)
        for stream in ("stdout", "stderr"):
            with self._lock:
                lines = self._add(stream, self._undecoded(stream))
                rest, self._pending[stream] = self._pending[stream], ""
            self._emit(stream, [*lines, rest] if rest else lines)

    def text(self, stream: str) -> str:
        """All text written to ``stream`` so far."""
        with self._lock:
            return "".join(self._parts[stream])


_capture: ContextVar[TaskCapture | None] = ContextVar("asyncflow_capture", default=None)


class _StreamProxy(io.TextIOBase):
    def __init__(self, name: str, real: TextIO) -> None:
        self._name = name
        self.real = real
        self._buffer: _BufferProxy | None = None

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as a real text stream refuses it, inside a task too
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        capture = _capture.get()
        if capture is None:
            return self.real.write(text)
        capture.write(self._name, text)
        return len(text)

    # io.TextIOBase defines these as None, so __getattr__ would never see them
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.real, "errors", None)

    def flush(self) -> None:
        if _capture.get() is None:
            self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def buffer(self) -> _BufferProxy:
        """The binary stream under this one: captured in a task like the text."""
        if self._buffer is None:
            self._buffer = _BufferProxy(self)
        return self._buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _BufferProxy(io.BufferedIOBase):
    """``sys.stdout.buffer`` of a proxy: bytes to the task's capture, or to the real
    stream's buffer outside any task."""

    def __init__(self, text: _StreamProxy) -> None:
        self._text = text

    def write(self, data: Any) -> int:
        if isinstance(data, str):  # as a real binary stream refuses it
            raise TypeError("a bytes-like object is required, not 'str'")
        capture = _capture.get()
        if capture is None:
            return int(self._text.real.buffer.write(data))
        raw = bytes(data)
        capture.write_bytes(self._text._name, raw, self._text.encoding)
        return len(raw)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        # also run as the proxy is collected: a real stream may have no buffer (StringIO)
        buffer = getattr(self._text.real, "buffer", None)
        if _capture.get() is None and buffer is not None:
            buffer.flush()

    def isatty(self) -> bool:
        return self._text.isatty()

    def fileno(self) -> int:
        return self._text.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._text.real.buffer, name)


_install_lock = threading.Lock()


def install_proxies() -> None:
    """Route ``sys.stdout``/``sys.stderr`` through task-aware proxies (idempotent)."""
    if isinstance(sys.stdout, _StreamProxy) and isinstance(sys.stderr, _StreamProxy):
        return  # installed (every attempt asks)
    with _install_lock:
        if not isinstance(sys.stdout, _StreamProxy):
            sys.stdout = _proxy("stdout", sys.stdout)
        if not isinstance(sys.stderr, _StreamProxy):
            sys.stderr = _proxy("stderr", sys.stderr)


def _proxy(name: str, real: TextIO) -> _StreamProxy:
    proxy = _StreamProxy(name, real)
    for handler in _logging_handlers():
        if isinstance(handler, logging.StreamHandler) and handler.stream is real:
            handler.setStream(proxy)
    return proxy


def _logging_handlers() -> Iterator[logging.Handler]:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            yield from logger.handlers


def real_stream(stream: TextIO) -> TextIO:
    """The stream under a proxy, for writing around any capture."""
    return stream.real if isinstance(stream, _StreamProxy) else stream


def start_capture(capture: TaskCapture) -> Token[TaskCapture | None]:
    """Send this context's output to ``capture``."""
    install_proxies()
    return _capture.set(capture)


def stop_capture(token: Token[TaskCapture | None]) -> None:
    """Undo :func:`start_capture`."""
    _capture.reset(token)


class capture_suspended:
    """Let output reach the real streams again, inside a task (for event listeners).

    A class, not ``@contextmanager``: the engine enters it for every event it emits.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _capture.set(None)

    def __exit__(self, *exc_info: object) -> None:
        _capture.reset(self._token)


def suspend_capture() -> Token[TaskCapture | None] | None:
    """:class:`capture_suspended` as two calls (the engine's, for every event it emits):
    None if nothing is captured here, else the token for :func:`resume_capture`."""
    return None if _capture.get() is None else _capture.set(None)


def resume_capture(token: Token[TaskCapture | None] | None) -> None:
    """Undo :func:`suspend_capture`."""
    if token is not None:
        _capture.reset(token)
