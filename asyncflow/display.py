"""The CLI's views of a run, built on engine events.

``LinePrinter`` prints one timestamped line per event (CI, logs, pipes);
``LiveView`` keeps a live status block per step at the bottom of a terminal,
with a progress bar for foreach steps, while task output scrolls above it.
``make_display`` picks one for the output stream. A stream whose reader has
gone (``python flow.py run | head -2``) stops the display, never the run.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
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

__all__ = ["BAR_WIDTH", "LinePrinter", "LiveView", "StepProgress", "describe", "make_display"]


def _prefix(pathspec: str) -> str:
    """``[run/step/task]`` for a task pathspec ``Flow/run/step/task``."""
    return "[" + "/".join(pathspec.split("/")[1:]) + "]"


def describe(event: Event, *, lifecycle: bool = True) -> list[str]:
    """The log lines for ``event``; ``lifecycle=False`` leaves out task start/finish."""
    match event:
        case RunStarted(pathspec=p):
            return [f"Workflow starting (run-id {p.split('/')[1]}):"]
        case TaskStarted(pathspec=p) if lifecycle:
            return [f"{_prefix(p)} Task is starting."]
        case TaskOutput(pathspec=p, line=line):
            return [f"{_prefix(p)} {line}"]
        case TaskFinished(pathspec=p) if lifecycle:
            return [f"{_prefix(p)} Task finished successfully."]
        case TaskFailed(pathspec=p, traceback=tb):
            return [f"{_prefix(p)} {line}" for line in tb.rstrip().splitlines()] + [
                f"{_prefix(p)} Task failed."
            ]
        case TaskRetrying(pathspec=p, attempt=n, traceback=tb, wait_seconds=wait):
            return [f"{_prefix(p)} {line}" for line in tb.rstrip().splitlines()] + [
                f"{_prefix(p)} Attempt failed; retry {n} in {wait:g} "
                f"second{'' if wait == 1 else 's'}."
            ]
        case TaskCloned(pathspec=p, origin_pathspec=origin) if lifecycle:
            return [f"{_prefix(p)} Cloning results of a previously run task {origin}"]
        case RunFinished(status="successful"):
            return ["Done!"]
        case RunFinished(pathspec=p, status=status):
            return [f"Run {p} {status}."]
    return []


class _Output:
    """Writes to ``out`` (default: the real stdout) until its reader goes away.

    After a broken pipe the stream's file descriptor is pointed at ``/dev/null``, so
    that no later write or the interpreter's last flush fails on it either.
    """

    def __init__(self, out: TextIO | None) -> None:
        self._out = out
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        out = self._out or real_stream(sys.stdout)
        try:
            out.write(text)
            out.flush()
        except BrokenPipeError:
            self.closed = True
            _discard_writes(out)


def _discard_writes(out: TextIO) -> None:
    try:
        fd = out.fileno()
    except (OSError, ValueError):  # not backed by a file descriptor: nothing to redirect
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class LinePrinter:
    """Prints each event as timestamped lines; safe to call from any thread.

    ``quiet`` prints only failed and retried tasks' tracebacks.
    """

    def __init__(self, out: TextIO | None = None, *, quiet: bool = False) -> None:
        self._output = _Output(out)
        self._quiet = quiet
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True once the output's reader has gone (a closed pipe)."""
        return self._output.closed

    def __call__(self, event: Event) -> None:
        if self._quiet and not isinstance(event, TaskFailed | TaskRetrying):
            return
        lines = describe(event)
        if not lines:
            return
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with self._lock:
            self._output.write("".join(f"{stamp} {line}\n" for line in lines))


@dataclass
class StepProgress:
    """What a step's tasks are doing, for the live view."""

    name: str
    running: set[str] = field(default_factory=set)
    done: int = 0
    failed: int = 0
    retries: int = 0
    # (outer foreach indices) -> size of the innermost foreach, per fan-out seen so far
    fanouts: dict[tuple[int, ...], int] = field(default_factory=dict)

    @property
    def total(self) -> int | None:
        """How many tasks the step's foreach fan-outs make, or None outside a foreach."""
        return sum(self.fanouts.values()) if self.fanouts else None

    def counts(self) -> str:
        """``2 running, 1 failed, 3 retries``: the non-zero counts."""
        parts = [
            f"{n} {what}"
            for n, what in ((len(self.running), "running"), (self.done, "done"),
                            (self.failed, "failed"),
                            (self.retries, "retry" if self.retries == 1 else "retries"))
            if n
        ]  # fmt: skip
        return ", ".join(parts)


BAR_WIDTH = 24


class LiveView:
    """A live status block for a terminal; task output scrolls above it.

    One line per step, in the order steps start: its tasks running, done and
    failed, and for a foreach step a progress bar over the fan-out. Safe to call
    from any thread.
    """

    def __init__(self, out: TextIO | None = None, *, width: int | None = None) -> None:
        self._output = _Output(out)
        self._width = width
        self._lock = threading.Lock()
        self._steps: dict[str, StepProgress] = {}
        self._drawn = 0

    @property
    def closed(self) -> bool:
        """True once the output's reader has gone (a closed pipe)."""
        return self._output.closed

    def __call__(self, event: Event) -> None:
        with self._lock:
            changed = self._update(event)
            lines = describe(event, lifecycle=False)
            if changed or lines:
                self._draw(lines, final=isinstance(event, RunFinished))

    def _update(self, event: Event) -> bool:
        """Apply ``event`` to the steps' progress; False if it changes nothing shown."""
        match event:
            case RunStarted():
                self._steps.clear()
            case TaskStarted(pathspec=p, foreach=frames):
                step = self._step(p)
                step.running.add(p)
                if frames:
                    step.fanouts[tuple(i for i, _ in frames[:-1])] = frames[-1][1]
            case TaskFinished(pathspec=p):
                step = self._step(p)
                step.running.discard(p)
                step.done += 1
            case TaskCloned(pathspec=p):
                self._step(p).done += 1
            case TaskRetrying(pathspec=p):
                self._step(p).retries += 1
            case TaskFailed(pathspec=p):
                step = self._step(p)
                step.running.discard(p)
                step.failed += 1
            case RunFinished():
                pass
            case _:
                return False
        return True

    def _step(self, pathspec: str) -> StepProgress:
        name = pathspec.split("/")[2]
        return self._steps.setdefault(name, StepProgress(name))

    def render(self) -> list[str]:
        """The status block: one line per step."""
        width = max((len(name) for name in self._steps), default=0)
        return [self._render_step(step, width) for step in self._steps.values()]

    def _render_step(self, step: StepProgress, width: int) -> str:
        total = step.total
        if total is None:
            return f"{step.name:<{width}}  {step.counts()}"
        finished = step.done + step.failed
        filled = BAR_WIDTH * finished // total if total else 0
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"{step.name:<{width}}  [{bar}] {finished}/{total}  {step.counts()}"

    def _draw(self, log_lines: list[str], *, final: bool) -> None:
        columns = self._width or shutil.get_terminal_size().columns
        # Status lines must not wrap: the cursor goes back up by lines, not rows.
        block = [line[: max(columns - 1, 1)] for line in self.render()]
        erase = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        if final:  # the last state stays on screen above the closing message
            text = erase + "".join(f"{line}\n" for line in [*block, *log_lines])
            self._drawn = 0
        else:
            text = erase + "".join(f"{line}\n" for line in [*log_lines, *block])
            self._drawn = len(block)
        self._output.write(text)


def make_display(out: TextIO | None = None) -> LinePrinter | LiveView:
    """The live view for a terminal, plain lines otherwise.

    ``ASYNCFLOW_DISPLAY=plain`` or ``live`` overrides the choice; ``TERM=dumb``
    means plain.
    """
    stream = out or real_stream(sys.stdout)
    choice = os.environ.get("ASYNCFLOW_DISPLAY", "")
    if choice not in ("plain", "live"):
        interactive = stream.isatty() and os.environ.get("TERM", "") != "dumb"
        choice = "live" if interactive else "plain"
    return LiveView(out) if choice == "live" else LinePrinter(out)
