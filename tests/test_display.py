from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from asyncflow.display import (
    QUIET_FOREACH,
    LinePrinter,
    LiveView,
    describe,
    duration,
    make_display,
)
from asyncflow.events import (
    ArtifactStored,
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

from .terminal import REPO, run_on_pty, screen


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


R = "F/7"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live(out: io.StringIO, width: int = 80, **options: Any) -> tuple[LiveView, Clock]:
    clock = Clock()
    return LiveView(out, width=width, clock=clock, tick=None, **options), clock


def test_live_view_shows_each_step_and_a_foreach_progress_bar() -> None:
    out = FakeTTY()
    view, clock = live(out)
    view(RunStarted(R))
    view(TaskStarted(f"{R}/start/1"))
    clock.now += 2
    view(TaskFinished(f"{R}/start/1"))
    for i in range(4):
        view(TaskStarted(f"{R}/work/{i + 2}", ((i, 4),)))
    view(TaskOutput(f"{R}/work/3", "stdout", "working on b"))
    clock.now += 10
    view(TaskFinished(f"{R}/work/3"))
    view(ArtifactStored(f"{R}/work/2", "x", 1, "msgpack/1"))
    view(TaskFailed(f"{R}/work/2", "ValueError: bad", "Traceback:\nValueError: bad\n"))
    block = [
        "start  1 done  2s",
        # two of four finished in 10 s: the other two should take 10 s more
        "work   [############------------] 2/4  2 running, 1 done, 1 failed  10s eta 10s",
        "run 7  12s",
    ]
    assert view.render() == block
    assert screen(out.getvalue()) == [
        "Workflow starting (run-id 7):",
        "[7/work/3] working on b",
        "[7/work/2] Traceback:",
        "[7/work/2] ValueError: bad",
        "[7/work/2] Task failed.",
        *block,
    ]
    clock.now += 65
    view(RunFinished(R, "failed"))
    assert screen(out.getvalue())[-4:] == [
        "start  1 done  2s",
        # the failure cancelled the tasks still running
        "work   [########################] 4/4  1 done, 1 failed, 2 cancelled  1m15s",
        "run 7  1m17s",
        "Run F/7 failed.",
    ]


def test_live_view_lists_steps_not_started_yet_dimmed() -> None:
    view, _clock = live(FakeTTY(), steps=["start", "work", "end"])
    view(RunStarted(R))
    view(TaskStarted(f"{R}/start/1"))
    assert view.render() == [
        "start  1 running  0s",
        "\x1b[2mwork   waiting\x1b[0m",
        "\x1b[2mend    waiting\x1b[0m",
        "run 7  0s",
    ]


def test_a_switch_case_not_taken_reads_not_run_once_the_run_ends() -> None:
    view, _clock = live(FakeTTY(), steps=["start", "small", "big", "end"])
    view(RunStarted(R))
    view(TaskStarted(f"{R}/start/1"))
    view(TaskFinished(f"{R}/start/1"))
    view(TaskStarted(f"{R}/big/2"))
    assert "\x1b[2msmall  waiting\x1b[0m" in view.render()  # the run goes on
    view(TaskFinished(f"{R}/big/2"))
    view(TaskStarted(f"{R}/end/3"))
    view(TaskFinished(f"{R}/end/3"))
    view(RunFinished(R, "successful"))
    assert view.render() == [
        "start  1 done  0s",
        "\x1b[2msmall  not run\x1b[0m",
        "big    1 done  0s",
        "end    1 done  0s",
        "run 7  0s",
    ]


def test_ctrl_c_shows_the_running_tasks_as_cancelled() -> None:
    view, clock = live(FakeTTY())
    view(RunStarted(R))
    view(TaskStarted(f"{R}/a/1"))
    view(TaskStarted(f"{R}/b/2"))
    view(TaskFinished(f"{R}/b/2"))
    clock.now += 3
    view(RunFinished(R, "cancelled"))
    assert view.render() == ["a  1 cancelled  3s", "b  1 done  0s", "run 7  3s"]


def test_live_view_counts_retries_and_cloned_tasks() -> None:
    view, _ = live(FakeTTY())
    view(TaskCloned(f"{R}/start/1", "F/6/start/1"))
    view(TaskStarted(f"{R}/flaky/2"))
    view(TaskRetrying(f"{R}/flaky/2", 0, "OSError: down", "Traceback:\nOSError: down\n", 0.0))
    view(TaskRetrying(f"{R}/flaky/2", 1, "OSError: down", "Traceback:\nOSError: down\n", 0.0))
    assert view.render() == ["start  1 cloned", "flaky  1 running, 2 retries  0s"]


def test_live_view_counts_nested_foreach_fan_outs() -> None:
    view, _ = live(FakeTTY())
    view(TaskStarted(f"{R}/inner/5", ((0, 2), (0, 3))))
    view(TaskStarted(f"{R}/inner/6", ((1, 2), (0, 1))))
    assert view.render() == ["inner  [------------------------] 0/4  2 running  0s"]


def test_live_view_lines_never_wrap() -> None:
    out = FakeTTY()
    view, _ = live(out, width=20)
    view(TaskStarted(f"{R}/a_rather_long_step_name/1"))
    assert screen(out.getvalue()) == ["a_rather_long_step_"]


def test_counts_stay_readable_in_40_columns() -> None:
    out = FakeTTY()
    view, clock = live(out, width=40)
    view(RunStarted(R))
    for i in range(4):
        view(TaskStarted(f"{R}/work/{i + 1}", ((i, 200),)))
    clock.now += 4
    view(TaskFinished(f"{R}/work/1"))
    view(TaskFailed(f"{R}/work/2", "ValueError: bad", "Traceback:\nValueError: bad\n"))
    lines = screen(out.getvalue())[-2:]
    # the bar goes, the counts shorten and the eta goes before anything is cut
    assert lines == ["work  2/200  2 run 1 ok 1 fail  4s", "run 7  4s"]
    assert all(len(line) < 40 for line in lines)


def test_a_duration_reads_as_seconds_minutes_or_hours() -> None:
    assert [duration(s) for s in (0.4, 59.9, 60, 125, 3600, 3725)] == [
        "0s", "59s", "1m00s", "2m05s", "1h00m", "1h02m",
    ]  # fmt: skip


def test_make_display_picks_the_live_view_for_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASYNCFLOW_DISPLAY", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(make_display(FakeTTY()), LiveView)
    assert isinstance(make_display(io.StringIO()), LinePrinter)
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(make_display(FakeTTY()), LinePrinter)
    monkeypatch.setenv("ASYNCFLOW_DISPLAY", "live")
    assert isinstance(make_display(io.StringIO()), LiveView)
    monkeypatch.setenv("ASYNCFLOW_DISPLAY", "plain")
    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(make_display(FakeTTY()), LinePrinter)


def test_cli_on_a_terminal_draws_the_live_view(store_root: Path) -> None:
    code, output = run_on_pty(
        ["-c", "from tests.flows.embedding import ForeachFlow; ForeachFlow()", "run"],
        store_root,
    )
    assert code == 0, output
    lines = screen(output)
    assert lines[0].startswith("asyncflow executing ForeachFlow for user:")
    assert lines[1] == "Workflow starting (run-id 1):"
    assert sorted(lines[2:5]) == [
        "[1/work/2] working on a",
        "[1/work/3] working on b",
        "[1/work/4] working on c",
    ]
    assert [_untimed(line) for line in lines[5:]] == [
        "start  1 done",
        "work   [########################] 3/3  3 done",
        "join   1 done",
        "end    1 done",
        "run 1",
        "Done!",
    ]
    # before they started, the later steps were listed, dimmed
    assert "\x1b[2mend    waiting\x1b[0m" in output


def _untimed(line: str) -> str:
    """``line`` without its elapsed time (``  3s``, ``  1m05s``) at the end."""
    return re.sub(r"  \d+(s|m\d\ds|h\d\dm)$", "", line)


def test_ctrl_c_on_a_terminal_shows_cancelled_tasks_then_resume_shows_clones(
    store_root: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    script = str(REPO / "tests" / "flows" / "crashable.py")
    code, output = run_on_pty(
        [script, "run"], store_root, env={"CRASH_GATE": str(gate)}, interrupt_at=gate
    )
    assert code == 130, output
    lines = [_untimed(line) for line in screen(output)]
    # items 1 and 3 may finish before the Ctrl-C lands; item 2 never does
    work = next(line for line in lines if line.startswith("work"))
    assert re.fullmatch(r"work   \[#+\] 3/3  (\d done, )?1 cancelled", work), work
    assert lines[-3:] == [
        "run 1",
        "Run CrashFlow/1 cancelled.",
        "Run CrashFlow/1 was cancelled (Ctrl-C); `resume` continues it.",
    ]
    assert "\x1b[2mend    waiting\x1b[0m" in output  # not started yet, while the run went on
    assert "end    not run" in lines  # and once it had ended

    code, output = run_on_pty([script, "resume"], store_root)
    assert code == 0, output
    lines = [_untimed(line) for line in screen(output)]
    assert "start  1 cloned" in lines


def _plain_lines(events: list[object]) -> list[str]:
    out = io.StringIO()
    printer = LinePrinter(out)
    for event in events:
        printer(event)  # type: ignore[arg-type]
    return [line.split(" ", 2)[2] for line in out.getvalue().splitlines()]


def test_line_printer_prints_every_task_of_a_small_foreach() -> None:
    n = QUIET_FOREACH
    events: list[object] = []
    for i in range(n):
        events += [TaskStarted(f"{R}/work/{i}", ((i, n),)), TaskFinished(f"{R}/work/{i}")]
    lines = _plain_lines(events)
    assert len(lines) == 2 * n
    assert lines[:2] == ["[7/work/0] Task is starting.", "[7/work/0] Task finished successfully."]


def test_line_printer_counts_a_large_foreach_in_tenths_and_keeps_output_and_failures() -> None:
    n = 1000
    events: list[object] = [TaskStarted(f"{R}/start/1"), TaskFinished(f"{R}/start/1")]
    for i in range(n):
        events.append(TaskStarted(f"{R}/work/{i}", ((i, n),)))
        if i == 5:
            events.append(TaskOutput(f"{R}/work/{i}", "stdout", "hello from five"))
        if i == 7:
            events.append(TaskFailed(f"{R}/work/{i}", "ValueError: x", "ValueError: x\n"))
        else:
            events.append(TaskFinished(f"{R}/work/{i}"))
    lines = _plain_lines(events)
    assert lines[:3] == [
        "[7/start/1] Task is starting.",
        "[7/start/1] Task finished successfully.",
        "[7/work] 1,000 tasks starting; a line for each tenth finished.",
    ]
    assert "[7/work/5] hello from five" in lines
    assert "[7/work/7] ValueError: x" in lines and "[7/work/7] Task failed." in lines
    progress = [line for line in lines if " of 1,000 tasks finished" in line]
    assert progress == [f"[7/work] {k * 100:,} of 1,000 tasks finished." for k in range(1, 10)]
    assert not any("work/" in line and "Task is starting" in line for line in lines)


def test_line_printer_names_the_outer_item_of_a_nested_large_foreach() -> None:
    n = 200
    events: list[object] = []
    for outer in range(2):
        for i in range(n):
            p = f"{R}/inner/{outer * n + i}"
            events += [TaskStarted(p, ((outer, 2), (i, n))), TaskFinished(p)]
    lines = _plain_lines(events)
    starting = "[7/inner] 200 tasks starting (inside foreach items 1); a line for each tenth"
    assert f"{starting} finished." in lines
    assert "[7/inner] 200 of 200 tasks finished (inside foreach items 0)." in lines
    assert len(lines) == 2 * (1 + 10)


def test_a_run_continued_in_place_says_so_and_counts_its_kept_tasks() -> None:
    assert describe(RunContinued(R)) == ["Workflow continuing (run-id 7):"]
    assert describe(TaskCloned(f"{R}/start/1", f"{R}/start/1")) == [
        "[7/start/1] Task had finished before the process died; keeping its results."
    ]
    assert describe(TaskCloned(f"{R}/start/1", "F/6/start/1")) == [
        "[7/start/1] Cloning results of a previously run task F/6/start/1"
    ]
    view, _ = live(FakeTTY())
    view(RunContinued(R))
    view(TaskCloned(f"{R}/start/1", f"{R}/start/1"))
    view(TaskCloned(f"{R}/start/2", "F/6/start/2"))
    assert view.render() == ["start  1 cloned, 1 kept", "run 7  0s"]
