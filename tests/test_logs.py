from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from asyncflow import Flow, Runner
from asyncflow.events import Event, TaskOutput
from asyncflow.logs import TaskCapture

from .conftest import run_python
from .flows import logs_flow
from .flows.logs_flow import InterleavedFlow

pytestmark = pytest.mark.anyio


@contextmanager
def fresh_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Stand-ins for the terminal, and a logging handler made on them before asyncflow
    touched ``sys.stderr`` (as apps do at start). Set inside the test: pytest swaps
    ``sys.stdout`` back in between a fixture's setup and the test."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logs_flow.log.addHandler(handler)
    logs_flow.log.propagate = False
    try:
        yield out, err
    finally:
        logs_flow.log.removeHandler(handler)
        logs_flow.log.propagate = True


async def test_each_task_keeps_its_own_interleaved_output(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs_flow.reset()
    events: list[Event] = []
    with fresh_terminal(monkeypatch) as (out, err):
        result = await Runner(InterleavedFlow).async_run(on_event=events.append)
    assert result.status == "successful", result.traceback
    left, right = result.run["left"].task, result.run["right"].task
    assert left is not None and right is not None
    assert (left.stdout, left.stderr) == ("left 1\n", "left 2\nflowlog: left logged\n")
    assert (right.stdout, right.stderr) == ("right 1\nfrom a copied thread\n", "right 2\n")
    left_p, right_p = left.pathspec, right.pathspec
    assert [e for e in events if isinstance(e, TaskOutput)] == [
        TaskOutput(left_p, "stdout", "left 1"),
        TaskOutput(right_p, "stdout", "right 1"),
        TaskOutput(left_p, "stderr", "left 2"),
        TaskOutput(left_p, "stderr", "flowlog: left logged"),
        TaskOutput(right_p, "stderr", "right 2"),
        TaskOutput(right_p, "stdout", "from a copied thread"),
    ]
    # A thread the step started without its context writes to the real stream.
    assert out.getvalue() == "from a plain thread\n"
    assert err.getvalue() == ""


async def test_logging_outside_a_task_still_reaches_the_real_stream(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs_flow.reset()
    with fresh_terminal(monkeypatch) as (_, err):
        await Runner(InterleavedFlow).async_run()
        logs_flow.log.warning("after the run")
    assert err.getvalue() == "flowlog: after the run\n"


BYTES_FLOW = Path(__file__).resolve().parent / "flows" / "bytes_output.py"


def test_bytes_and_text_that_is_not_utf8_are_captured_and_read_back(store_root: Path) -> None:
    proc = run_python(
        str(BYTES_FLOW), "run", root=store_root, env={"PYTHONIOENCODING": "utf-8"}, check=True
    )
    run = Flow("BytesOutputFlow").latest_run
    assert run is not None and run.successful
    task = run["start"].task
    assert task is not None
    assert task.data.streams == ["utf-8", "utf-8", True]
    assert task.stdout == (
        "caf\u00e9\nencoded \u00e9\nsplit \u00a9\nlatin-1 \ufffd and \ufffd\n"
        "escaped \ufffd\ncut \ufffd then text\n"
    )
    assert task.stderr == "to stderr \u20ac\n"
    assert task.data.refused == "a bytes-like object is required, not 'str'"
    assert "[1/start/1] latin-1 \ufffd and \ufffd" in proc.stdout  # shown live too


def test_a_capture_decodes_bytes_across_writes_and_ends_a_cut_character() -> None:
    lines: list[tuple[str, str]] = []
    capture = TaskCapture(lambda stream, line: lines.append((stream, line)))
    capture.write_bytes("stdout", b"\xe2\x82", "utf-8")
    capture.write_bytes("stdout", b"\xac\n\xe2", "utf-8")
    capture.write("stderr", "other stream \udcff\n")
    capture.flush()
    assert capture.text("stdout") == "\u20ac\n\ufffd"
    assert capture.text("stderr") == "other stream \ufffd\n"
    assert lines == [("stdout", "\u20ac"), ("stderr", "other stream \ufffd"), ("stdout", "\ufffd")]
