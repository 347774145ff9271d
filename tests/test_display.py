from __future__ import annotations

import io
from pathlib import Path

import pytest

from asyncflow.display import QUIET_FOREACH, LinePrinter, LiveView, make_display
from asyncflow.events import (
    ArtifactStored,
    RunFinished,
    RunStarted,
    TaskCloned,
    TaskFailed,
    TaskFinished,
    TaskOutput,
    TaskRetrying,
    TaskStarted,
)

from .terminal import run_on_pty, screen


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


R = "F/7"


def test_live_view_shows_each_step_and_a_foreach_progress_bar() -> None:
    out = FakeTTY()
    view = LiveView(out, width=80)
    view(RunStarted(R))
    view(TaskStarted(f"{R}/start/1"))
    view(TaskFinished(f"{R}/start/1"))
    for i in range(4):
        view(TaskStarted(f"{R}/work/{i + 2}", ((i, 4),)))
    view(TaskOutput(f"{R}/work/3", "stdout", "working on b"))
    view(TaskFinished(f"{R}/work/3"))
    view(ArtifactStored(f"{R}/work/2", "x", 1, "msgpack/1"))
    view(TaskFailed(f"{R}/work/2", "ValueError: bad", "Traceback:\nValueError: bad\n"))
    assert view.render() == [
        "start  1 done",
        "work   [############------------] 2/4  2 running, 1 done, 1 failed",
    ]
    assert screen(out.getvalue()) == [
        "Workflow starting (run-id 7):",
        "[7/work/3] working on b",
        "[7/work/2] Traceback:",
        "[7/work/2] ValueError: bad",
        "[7/work/2] Task failed.",
        "start  1 done",
        "work   [############------------] 2/4  2 running, 1 done, 1 failed",
    ]
    view(RunFinished(R, "failed"))
    assert screen(out.getvalue())[-3:] == [
        "start  1 done",
        "work   [############------------] 2/4  2 running, 1 done, 1 failed",
        "Run F/7 failed.",
    ]


def test_live_view_counts_retries_and_cloned_tasks() -> None:
    view = LiveView(FakeTTY(), width=80)
    view(TaskCloned(f"{R}/start/1", "F/6/start/1"))
    view(TaskStarted(f"{R}/flaky/2"))
    view(TaskRetrying(f"{R}/flaky/2", 0, "OSError: down", "Traceback:\nOSError: down\n", 0.0))
    view(TaskRetrying(f"{R}/flaky/2", 1, "OSError: down", "Traceback:\nOSError: down\n", 0.0))
    assert view.render() == ["start  1 done", "flaky  1 running, 2 retries"]


def test_live_view_counts_nested_foreach_fan_outs() -> None:
    view = LiveView(FakeTTY(), width=80)
    view(TaskStarted(f"{R}/inner/5", ((0, 2), (0, 3))))
    view(TaskStarted(f"{R}/inner/6", ((1, 2), (0, 1))))
    assert view.render() == ["inner  [------------------------] 0/4  2 running"]


def test_live_view_lines_never_wrap() -> None:
    out = FakeTTY()
    view = LiveView(out, width=20)
    view(TaskStarted(f"{R}/a_rather_long_step_name/1"))
    assert screen(out.getvalue()) == ["a_rather_long_step_"]


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
    assert lines[5:] == [
        "start  1 done",
        "work   [########################] 3/3  3 done",
        "join   1 done",
        "end    1 done",
        "Done!",
    ]


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
