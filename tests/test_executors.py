"""Executors: the same flows, events and store on worker processes as in-process;
crashes, timeouts and fenced commits."""

from __future__ import annotations

import inspect
import os
import signal
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from asyncflow import Engine, Flow, Run
from asyncflow.events import ArtifactStored, Event, TaskFinished, TaskOutput
from asyncflow.exceptions import ExecutorError, StaleAttemptError, StepTimeoutError
from asyncflow.executors import open_executor
from asyncflow.store import Datastore, TaskRecord

from .conftest import run_python
from .flows import cluster
from .flows.cluster import (
    CrashFlow,
    FlakyFlow,
    IsolatedFlow,
    RaisingFlow,
    SlowFlow,
    UncaughtCrashFlow,
    WhereFlow,
)

pytestmark = pytest.mark.anyio

SEGFAULT_FLOW = Path(__file__).resolve().parent / "flows" / "segfault_in_process.py"


def crash_line() -> int:
    """The line of UncaughtCrashFlow.end that segfaults."""
    lines, first = inspect.getsourcelines(UncaughtCrashFlow.end)
    return first + next(i for i, line in enumerate(lines) if "string_at" in line)


READ_CRASHED = """
from asyncflow import Run
run = Run("SegfaultFlow/1")
print(run.status, run.crashed, run.finished, *[s.id for s in run], run["start"].task.data.before)
"""


def data(result: Any, step: str) -> Any:
    task = Run(result.pathspec)[step].task
    assert task is not None
    return task.data


async def test_a_foreach_runs_in_worker_processes_with_live_events(store_root: Path) -> None:
    events: list[Event] = []
    result = await Engine(executor="processes:2", listeners=[events.append]).run(WhereFlow)
    assert result.successful, result.traceback
    join = data(result, "join")
    assert join.outs == ["0:a", "1:b", "2:c", "3:d"]
    assert os.getpid() not in join.pids and 1 <= len(join.pids) <= 2
    assert join.engine_pid != os.getpid()  # start ran in a worker too
    lines = [e.line for e in events if isinstance(e, TaskOutput)]
    assert sorted(lines) == [f"working on {x}" for x in "abcd"]
    stored = {e.name for e in events if isinstance(e, ArtifactStored)}
    assert {"pid", "out", "outs", "pids"} <= stored
    finished = [e for e in events if isinstance(e, TaskFinished)]
    assert len(finished) == 7  # once per task: the worker's own event is not repeated
    work = Run(result.pathspec)["work"]
    assert sorted(t.stdout.strip() for t in work) == [f"working on {x}" for x in "abcd"]


async def test_isolated_sends_only_that_step_to_a_worker(store_root: Path) -> None:
    result = await Engine().run(IsolatedFlow)
    assert result.successful, result.traceback
    end = data(result, "end")
    assert end.start_pid == end.end_pid == os.getpid()
    assert end.heavy_pid != os.getpid()


@pytest.mark.parametrize("how", ["segfault", "exit"])
async def test_a_task_that_kills_its_worker_fails_alone(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("CRASH_HOW", how)
    result = await Engine().run(CrashFlow)
    assert result.successful, result.traceback
    join = data(result, "join")
    assert join.values == [0, None, 20]  # @catch: the crashed task has no value, no run died
    expected = (
        "was killed by signal 11 (SIGSEGV: segmentation fault)"
        if how == "segfault"
        else "exited with code 3 before the task finished"
    )
    assert join.failures[0] is None and join.failures[2] is None
    assert expected in join.failures[1]
    crashed = next(t for t in Run(result.pathspec)["crash"] if t.data.failure)
    meta = Datastore(store_root).metadata
    first = meta.get_logs("CrashFlow", result.run_id, int(crashed.id), "stdout", attempt=0)
    assert first == "Crash and burn!\n"  # what it printed before it died is kept


async def test_an_uncaught_segfault_fails_the_run_with_its_logs(store_root: Path) -> None:
    result = await Engine().run(UncaughtCrashFlow)
    assert result.status == "failed"
    assert result.failed_pathspec is not None and result.failed_pathspec.endswith("/end/2")
    assert "segmentation fault" in (result.traceback or "")
    task = Run(result.pathspec)["end"].task
    assert task is not None
    assert "Crash and burn!" in task.stdout
    assert "segmentation fault" in task.stderr
    assert "SIGSEGV" in str(task.exception)
    # the worker's faulthandler says where it died, in the task's own stderr
    assert "Fatal Python error: Segmentation fault" in task.stderr
    assert f'{Path(cluster.__file__).name}", line {crash_line()} in end' in task.stderr


def test_a_segfault_in_an_unsupervised_flow_process_leaves_the_run_crashed(
    tmp_path: Path,
) -> None:
    # With its supervisor (tests/test_supervisor.py) the run goes on; without, it cannot.
    root = tmp_path / "store"
    proc = run_python(str(SEGFAULT_FLOW), "run", root=root, env={"ASYNCFLOW_SUPERVISOR": "off"})
    assert proc.returncode == -signal.SIGSEGV
    assert "about to crash" in proc.stdout  # shown live before the process died
    assert "Fatal Python error: Segmentation fault" in proc.stderr
    assert 'segfault_in_process.py", line 17 in crash' in proc.stderr  # where it died
    assert "continues" not in proc.stderr
    shown = run_python("-m", "asyncflow", "show", "SegfaultFlow/1", root=root, check=True)
    assert "status:      crashed" in shown.stdout
    read = run_python("-c", READ_CRASHED, root=root, check=True)
    assert read.stdout.split() == ["running", "True", "False", "start", "committed"]


async def test_a_timeout_kills_a_plain_step_in_its_worker(store_root: Path) -> None:
    started = time.monotonic()
    result = await Engine().run(SlowFlow)
    assert result.status == "failed"
    assert isinstance(result.exception, StepTimeoutError)
    assert time.monotonic() - started < 30  # the step burns 60 s unless its worker is killed


async def test_retries_are_the_engines_on_a_worker(store_root: Path) -> None:
    result = await Engine(executor="processes:1").run(FlakyFlow)
    assert result.successful, result.traceback
    task = Run(result.pathspec)["flaky"].task
    assert task is not None
    assert task.data.attempts_seen == 1
    meta = Datastore(store_root).metadata
    first = meta.get_logs("FlakyFlow", result.run_id, int(task.id), "stderr", attempt=0)
    assert "ValueError: first attempt fails" in first


async def test_a_raise_on_a_worker_comes_back_like_a_local_one(store_root: Path) -> None:
    local = await Engine().run(RaisingFlow)
    remote = await Engine(executor="processes:1").run(RaisingFlow)
    assert remote.status == local.status == "failed"
    assert isinstance(remote.exception, KeyError)
    assert remote.traceback == local.traceback
    assert "helper_that_raises" in (remote.traceback or "")


def test_a_flow_in_a_main_script_runs_on_workers(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "script_flow.py").write_text(
        textwrap.dedent(
            """
            import os
            from asyncflow import FlowSpec, step
            from helpers import double

            class ScriptFlow(FlowSpec):
                @step
                def start(self):
                    self.items = [1, 2, 3]
                    self.next(self.work, foreach="items")

                @step
                def work(self):
                    self.y = double(self.input)
                    self.pid = os.getpid()
                    self.next(self.join)

                @step
                def join(self, inputs):
                    self.ys = [i.y for i in inputs]
                    self.next(self.end)

                @step
                def end(self):
                    print("ys", self.ys)

            if __name__ == "__main__":
                ScriptFlow()
            """
        )
    )
    root = tmp_path / "store"
    proc = run_python(
        "script_flow.py", "run", "--executor", "processes:2", root=root, cwd=tmp_path, check=True
    )
    assert "ys [2, 4, 6]" in proc.stdout
    run = Flow("ScriptFlow", root=root).latest_run
    assert run is not None and run.successful
    assert len({t.data.pid for t in run["work"]}) >= 1


async def test_a_flow_defined_in_a_function_is_shipped_by_value(store_root: Path) -> None:
    from asyncflow import FlowSpec, step

    class LocalFlow(FlowSpec):
        @step
        def start(self) -> None:
            self.value = sum(range(10))
            self.pid = os.getpid()
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    result = await Engine(executor="processes:1").run(LocalFlow)
    assert result.successful, result.traceback
    assert data(result, "end").value == 45
    assert data(result, "end").pid != os.getpid()


def test_a_fenced_commit_refuses_a_stale_attempt(tmp_path: Path) -> None:
    store = Datastore(tmp_path / "store")
    run = store.metadata.create_run("F", "me", {}, [], [], None)
    task = TaskRecord("F", run.run_id, "start", 1, "successful", attempt=0)
    store.metadata.fence_attempt(run.run_id, 1, 1)
    with pytest.raises(StaleAttemptError, match=r"attempt 0 of task F/\d+/start/1 may not commit"):
        store.commit_task(task, [], {"stdout": "zombie"}, fenced=True)
    assert store.metadata.get_task("F", run.run_id, "start", 1) is None
    assert store.metadata.get_logs("F", run.run_id, 1, "stdout") == ""
    newer = TaskRecord("F", run.run_id, "start", 1, "successful", attempt=1)
    store.commit_task(newer, [], {}, fenced=True)
    got = store.metadata.get_task("F", run.run_id, "start", 1)
    assert got is not None and got.attempt == 1
    with pytest.raises(StaleAttemptError):
        store.commit_task(task, [], {}, fenced=True)  # the zombie, later still
    got = store.metadata.get_task("F", run.run_id, "start", 1)
    assert got is not None and got.attempt == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("procs", "unknown executor"),
        ("processes:0", "at least 1"),
        ("processes:x", "unknown executor"),
    ],
)
def test_a_bad_executor_name_is_a_clear_error(name: str, message: str) -> None:
    with pytest.raises(ExecutorError, match=message):
        open_executor(name)


def test_the_cli_refuses_an_unknown_executor(tmp_path: Path) -> None:
    flow = Path(__file__).parent / "flows" / "fan_script.py"
    proc = run_python(str(flow), "run", "--executor", "nope", root=tmp_path / "store")
    assert proc.returncode != 0
    assert "--executor nope: unknown executor" in proc.stderr
