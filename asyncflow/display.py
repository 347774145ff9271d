"""The CLI's line-by-line view of a run, built on engine events."""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from typing import TextIO

from .events import (
    Event,
    RunFinished,
    RunStarted,
    TaskCloned,
    TaskFailed,
    TaskFinished,
    TaskOutput,
    TaskRetrying,
    TaskStarted,
)
from .logs import real_stream


def _prefix(pathspec: str) -> str:
    """``[run/step/task]`` for a task pathspec ``Flow/run/step/task``."""
    return "[" + "/".join(pathspec.split("/")[1:]) + "]"


class LinePrinter:
    """Prints each event as a timestamped line; safe to call from any thread."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        out = self._out or real_stream(sys.stdout)
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with self._lock:
            out.write(f"{stamp} {text}\n")
            out.flush()

    def __call__(self, event: Event) -> None:
        match event:
            case RunStarted(pathspec=p):
                self._line(f"Workflow starting (run-id {p.split('/')[1]}):")
            case TaskStarted(pathspec=p):
                self._line(f"{_prefix(p)} Task is starting.")
            case TaskOutput(pathspec=p, line=line):
                self._line(f"{_prefix(p)} {line}")
            case TaskFinished(pathspec=p):
                self._line(f"{_prefix(p)} Task finished successfully.")
            case TaskFailed(pathspec=p, traceback=tb):
                for line in tb.rstrip().splitlines():
                    self._line(f"{_prefix(p)} {line}")
                self._line(f"{_prefix(p)} Task failed.")
            case TaskRetrying(pathspec=p, attempt=n, traceback=tb, wait_seconds=wait):
                for line in tb.rstrip().splitlines():
                    self._line(f"{_prefix(p)} {line}")
                self._line(f"{_prefix(p)} Attempt failed; retry {n} in {wait:g} seconds.")
            case TaskCloned(pathspec=p, origin_pathspec=origin):
                self._line(f"{_prefix(p)} Cloning results of a previously run task {origin}")
            case RunFinished(status="successful"):
                self._line("Done!")
            case RunFinished(pathspec=p, status=status):
                self._line(f"Run {p} {status}.")
            case _:
                pass
