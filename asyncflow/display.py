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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from .events import (
    ArtifactStored,
    Event,
    RunContinued,
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
    "duration",
    "make_display",
]


def _prefix(pathspec: str) -> str:
    """``[run/step/task]`` for a task pathspec ``Flow/run/step/task``."""
    return "[" + "/".join(pathspec.split("/")[1:]) + "]"


def describe(event: Event, *, lifecycle: bool = True) -> list[str]:
    """The log lines for ``event``; ``lifecycle=False`` leaves out task start/finish."""
    match event:
        case RunContinued(pathspec=p):
            return [f"Workflow continuing (run-id {p.split('/')[1]}):"]
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
        case TaskCloned(pathspec=p, origin_pathspec=origin) if lifecycle and origin == p:
            return [f"{_prefix(p)} Task had finished before the process died; keeping its results."]
        case TaskCloned(pathspec=p, origin_pathspec=origin) if lifecycle:
            return [f"{_prefix(p)} Cloning results of a previously run task {origin}"]
        case RunFinished(status="successful"):
            return ["Done!"]
        case RunFinished(pathspec=p, status=status):
            return [f"Run {p} {status}."]
    return []


#: A foreach of more splits than this prints no start and finish line per task.
QUIET_FOREACH = 100


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

    ``quiet`` prints only failed and retried tasks' tracebacks. The tasks of a foreach
    larger than :data:`QUIET_FOREACH` print no start and finish lines: a line each time
    another tenth of them has finished stands for those. Their output, retries and
    failures print as usual.
    """

    def __init__(self, out: TextIO | None = None, *, quiet: bool = False) -> None:
        self._output = _Output(out)
        self._quiet = quiet
        self._lock = threading.Lock()
        self._counted: dict[str, tuple[str, ...]] = {}  # running counted task -> its fan-out
        self._fanouts: dict[tuple[str, ...], list[int]] = {}  # fan-out -> [finished, total]

    @property
    def closed(self) -> bool:
        """True once the output's reader has gone (a closed pipe)."""
        return self._output.closed

    def __call__(self, event: Event) -> None:
        if type(event) is ArtifactStored:  # the most frequent event, and never a line
            return
        if self._quiet and not isinstance(event, TaskFailed | TaskRetrying):
            return
        with self._lock:
            lines = self._lines(event)
            if lines:
                stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                self._output.write("".join(f"{stamp} {line}\n" for line in lines))

    def _lines(self, event: Event) -> list[str]:
        match event:
            case TaskStarted(pathspec=p, foreach=frames) if _counted(frames):
                fanout = (*p.split("/")[1:3], *(str(i) for i, _ in frames[:-1]))
                self._counted[p] = fanout
                if fanout in self._fanouts:
                    return []
                total = frames[-1][1]
                self._fanouts[fanout] = [0, total]
                return [f"[{'/'.join(fanout[:2])}] {total:,} tasks starting{_inside(fanout)}; "
                        "a line for each tenth finished."]  # fmt: skip
            case TaskFinished(pathspec=p) if p in self._counted:
                return self._progress(self._counted.pop(p))
            case TaskFailed(pathspec=p) if p in self._counted:
                del self._counted[p]
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


def _counted(frames: tuple[tuple[int, int], ...]) -> bool:
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
    cloned: int = 0
    #: Tasks of a run continued in place that had finished before its process died.
    kept: int = 0
    cancelled: int = 0
    # (outer foreach indices) -> size of the innermost foreach, per fan-out seen so far
    fanouts: dict[tuple[int, ...], int] = field(default_factory=dict)
    #: When its first task started, and when its last one ended while none ran.
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def total(self) -> int | None:
        """How many tasks the step's foreach fan-outs make, or None outside a foreach."""
        return sum(self.fanouts.values()) if self.fanouts else None

    @property
    def finished(self) -> int:
        """Tasks that will not run again: done, failed, cloned, kept or cancelled."""
        return self.done + self.failed + self.cloned + self.kept + self.cancelled

    def counts(self, *, short: bool = False) -> str:
        """``2 running, 1 failed, 3 retries``: the non-zero counts (``2 run 1 fail`` short)."""
        labels = (
            (len(self.running), "running", "run"),
            (self.done, "done", "ok"),
            (self.cloned, "cloned", "cloned"),
            (self.kept, "kept", "kept"),
            (self.failed, "failed", "fail"),
            (self.cancelled, "cancelled", "cancel"),
            (self.retries, "retry" if self.retries == 1 else "retries", "rt"),
        )
        parts = [f"{n} {brief if short else label}" for n, label, brief in labels if n]
        return (" " if short else ", ").join(parts)

    def elapsed(self, now: float) -> float | None:
        """Seconds from the first task's start to the last one's end (or to ``now``)."""
        if self.started_at is None:
            return None
        return (self.ended_at if self.ended_at is not None else now) - self.started_at

    def eta(self, now: float) -> float | None:
        """Seconds the rest of a running foreach should take, at the pace so far."""
        total, elapsed = self.total, self.elapsed(now)
        if total is None or elapsed is None or not self.running or not self.finished:
            return None
        return max(total - self.finished, 0) * elapsed / self.finished


def duration(seconds: float) -> str:
    """``7s``, ``2m05s``, ``1h02m``: a duration as the live view shows it."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


BAR_WIDTH = 24
_DIM, _RESET = "\x1b[2m", "\x1b[0m"


class LiveView:
    """A live status block for a terminal; task output scrolls above it.

    One line per step: its tasks running, done, cloned, failed and cancelled, how long
    it has taken, and for a foreach step a progress bar and an estimate of the time
    left; steps not started yet (given ``steps``, the flow's steps in order) are dimmed,
    ``waiting`` while the run goes on and ``not run`` once it has ended;
    the last line is the run's elapsed time. While a run goes on the block is redrawn
    every ``tick`` seconds (None: only on events). Safe to call from any thread.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        width: int | None = None,
        steps: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
        tick: float | None = 1.0,
    ) -> None:
        self._output = _Output(out)
        self._width = width
        self._order = list(steps)
        self._clock = clock
        self._tick = tick
        self._lock = threading.Lock()
        self._steps: dict[str, StepProgress] = {}
        self._run: str | None = None
        self._run_started: float | None = None
        self._run_ended: float | None = None
        self._drawn = 0
        self._ticking: threading.Event | None = None

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
        if isinstance(event, RunStarted):
            self._start_ticking()
        elif isinstance(event, RunFinished):
            self._stop_ticking()

    def _update(self, event: Event) -> bool:
        """Apply ``event`` to the steps' progress; False if it changes nothing shown."""
        now = self._clock()
        match event:
            case RunStarted(pathspec=p):
                self._steps.clear()
                self._run, self._run_started, self._run_ended = p, now, None
            case TaskStarted(pathspec=p, foreach=frames):
                step = self._step(p)
                step.running.add(p)
                if step.started_at is None:
                    step.started_at = now
                step.ended_at = None
                if frames:
                    step.fanouts[tuple(i for i, _ in frames[:-1])] = frames[-1][1]
            case TaskFinished(pathspec=p):
                step = self._ended(p, now)
                step.done += 1
            case TaskCloned(pathspec=p, origin_pathspec=origin) if origin == p:
                self._step(p).kept += 1
            case TaskCloned(pathspec=p):
                self._step(p).cloned += 1
            case TaskRetrying(pathspec=p):
                self._step(p).retries += 1
            case TaskFailed(pathspec=p):
                step = self._ended(p, now)
                step.failed += 1
            case RunFinished(status=status):
                self._run_ended = now
                if status != "successful":  # what still ran was cancelled with the run
                    for step in self._steps.values():
                        step.cancelled += len(step.running)
                        step.running.clear()
                        if step.started_at is not None and step.ended_at is None:
                            step.ended_at = now
            case _:
                return False
        return True

    def _step(self, pathspec: str) -> StepProgress:
        name = pathspec.split("/")[2]
        return self._steps.setdefault(name, StepProgress(name))

    def _ended(self, pathspec: str, now: float) -> StepProgress:
        step = self._step(pathspec)
        step.running.discard(pathspec)
        if not step.running:
            step.ended_at = now
        return step

    def render(self, columns: int = 200) -> list[str]:
        """The status block: one line per step, then the run's; none wider than ``columns``."""
        now = self._clock()
        names = [*self._order, *(n for n in self._steps if n not in self._order)]
        width = max((len(name) for name in names), default=0)
        # once the run has ended, a step without tasks (a switch's case not taken, a
        # step after a failure) will not run: the web UI's words for it
        idle = "waiting" if self._run_ended is None else "not run"
        lines = []
        for name in names:
            step = self._steps.get(name)
            if step is None:
                lines.append(_DIM + f"{name:<{width}}  {idle}"[:columns] + _RESET)
            else:
                lines.append(_fit(step, width, now, columns))
        if self._run_started is not None:
            end = self._run_ended if self._run_ended is not None else now
            run_id = (self._run or "").split("/")[-1]
            lines.append(f"run {run_id}  {duration(end - self._run_started)}"[:columns])
        return lines

    def _draw(self, log_lines: list[str], *, final: bool) -> None:
        columns = self._width or shutil.get_terminal_size().columns
        # Status lines must not wrap: the cursor goes back up by lines, not rows.
        block = self.render(max(columns - 1, 1))
        erase = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        if final:  # the last state stays on screen above the closing message
            text = erase + "".join(f"{line}\n" for line in [*block, *log_lines])
            self._drawn = 0
        else:
            text = erase + "".join(f"{line}\n" for line in [*log_lines, *block])
            self._drawn = len(block)
        self._output.write(text)

    def _start_ticking(self) -> None:
        if self._tick is None or self._ticking is not None:
            return
        stop = self._ticking = threading.Event()

        def tick() -> None:
            while not stop.wait(self._tick):
                with self._lock:
                    if self._drawn:
                        self._draw([], final=False)

        threading.Thread(target=tick, name="asyncflow-live-view", daemon=True).start()

    def _stop_ticking(self) -> None:
        if self._ticking is not None:
            self._ticking.set()
            self._ticking = None


#: What the line of a foreach step gives up, in turn, to fit: (bar width, short counts, eta).
_NARROWER = ((BAR_WIDTH, False, True), (16, False, True), (8, False, True), (8, True, True),
             (0, True, True), (8, True, False), (0, True, False))  # fmt: skip
_PLAIN_NARROWER = ((0, False, False), (0, True, False))


def _fit(step: StepProgress, width: int, now: float, columns: int) -> str:
    """The step's line, at most ``columns`` wide: a narrower bar, short counts, no eta."""
    elapsed, eta = step.elapsed(now), step.eta(now)
    took = "" if elapsed is None else "  " + duration(elapsed)
    left = "" if eta is None else f" eta {duration(eta)}"
    total, line = step.total, ""
    for bar_width, short, with_eta in _NARROWER if total is not None else _PLAIN_NARROWER:
        progress = ""
        if total is not None:
            filled = bar_width * step.finished // total if total else 0
            bar = f"[{'#' * filled}{'-' * (bar_width - filled)}] " if bar_width else ""
            progress = f"{bar}{step.finished}/{total}  "
        timing = took + (left if with_eta else "")
        line = f"{step.name:<{width}}  {progress}{step.counts(short=short)}{timing}"
        if len(line) <= columns:
            return line
    return line[:columns]


def make_display(out: TextIO | None = None, steps: Sequence[str] = ()) -> LinePrinter | LiveView:
    """The live view for a terminal (listing ``steps`` before they start), plain lines
    otherwise.

    ``ASYNCFLOW_DISPLAY=plain`` or ``live`` overrides the choice; ``TERM=dumb``
    means plain.
    """
    stream = out or real_stream(sys.stdout)
    choice = os.environ.get("ASYNCFLOW_DISPLAY", "")
    if choice not in ("plain", "live"):
        interactive = stream.isatty() and os.environ.get("TERM", "") != "dumb"
        choice = "live" if interactive else "plain"
    return LiveView(out, steps=steps) if choice == "live" else LinePrinter(out)
