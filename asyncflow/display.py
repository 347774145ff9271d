"""The CLI's views of a run, built on engine events.

``LinePrinter`` prints one timestamped line per event (CI, logs, pipes);
``LiveView`` keeps a live status block per step at the bottom of a terminal,
with a progress bar for foreach steps, while task output scrolls above it.
``make_display`` picks one for the output stream.
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

__all__ = [
    "BAR_WIDTH",
    "QUIET_FOREACH",
    "LinePrinter",
    "LiveView",
    "StepProgress",
    "describe",
    "make_display",
]


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


#: A foreach of more splits than this prints no start and finish line per task.
QUIET_FOREACH = 100


class LinePrinter:
    """Prints each event as timestamped lines; safe to call from any thread.

    The tasks of a foreach larger than :data:`QUIET_FOREACH` print no start and
    finish lines: a line each time another tenth of them has finished stands for
    those. Their output, retries and failures print as usual.
    """

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._quiet: dict[str, tuple[str, ...]] = {}  # running quiet task -> its fan-out
        self._fanouts: dict[tuple[str, ...], list[int]] = {}  # fan-out -> [finished, total]

    def __call__(self, event: Event) -> None:
        with self._lock:
            lines = self._lines(event)
        if not lines:
            return
        out = self._out or real_stream(sys.stdout)
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with self._lock:
            out.write("".join(f"{stamp} {line}\n" for line in lines))
            out.flush()

    def _lines(self, event: Event) -> list[str]:
        match event:
            case TaskStarted(pathspec=p, foreach=frames) if _quiet(frames):
                fanout = (*p.split("/")[1:3], *(str(i) for i, _ in frames[:-1]))
                self._quiet[p] = fanout
                if fanout in self._fanouts:
                    return []
                total = frames[-1][1]
                self._fanouts[fanout] = [0, total]
                return [f"[{'/'.join(fanout[:2])}] {total:,} tasks starting{_inside(fanout)}; "
                        "a line for each tenth finished."]  # fmt: skip
            case TaskFinished(pathspec=p) if p in self._quiet:
                return self._progress(self._quiet.pop(p))
            case TaskFailed(pathspec=p) if p in self._quiet:
                del self._quiet[p]
        return describe(event)

    def _progress(self, fanout: tuple[str, ...]) -> list[str]:
        """A line when another tenth of a quiet foreach's tasks has finished."""
        counts = self._fanouts[fanout]
        counts[0] += 1
        finished, total = counts
        if finished == total:
            del self._fanouts[fanout]
        if finished * 10 // total == (finished - 1) * 10 // total:
            return []
        where = "/".join(fanout[:2])
        return [f"[{where}] {finished:,} of {total:,} tasks finished{_inside(fanout)}."]


def _quiet(frames: tuple[tuple[int, int], ...]) -> bool:
    """Whether a task at ``frames`` belongs to a foreach too large for a line per task."""
    return bool(frames) and frames[-1][1] > QUIET_FOREACH


def _inside(fanout: tuple[str, ...]) -> str:
    """`` (inside foreach items 3, 1)`` for a fan-out nested in others."""
    return f" (inside foreach items {', '.join(fanout[2:])})" if fanout[2:] else ""


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
        self._out = out
        self._width = width
        self._lock = threading.Lock()
        self._steps: dict[str, StepProgress] = {}
        self._drawn = 0

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
        out = self._out or real_stream(sys.stdout)
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
        out.write(text)
        out.flush()


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
