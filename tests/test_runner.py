from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflow import Run, Runner
from asyncflow.engine import current_user
from asyncflow.events import (
    ArtifactStored,
    Event,
    RunFinished,
    RunStarted,
    TaskCloned,
    TaskFinished,
    TaskStarted,
)
from asyncflow.exceptions import FlowFileError, ParameterError
from serializers import CloudpickleSerializer, Registry

from .conftest import run_python
from .flows.embedding import HOOKS, THREAD_GATES, HookedFlow, ParamFlow, SyncWaitFlow
from .flows.linear import FailingFlow, MixedFlow

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture(autouse=True)
def clear_hooks() -> Iterator[None]:
    yield
    HOOKS.clear()


def test_run_blocks_and_returns_the_client_run(store_root: Path) -> None:
    with Runner(MixedFlow).run() as running:
        assert running.status == "successful"
        assert running.exception is None
        assert running.run.pathspec == f"MixedFlow/{running.run_id}"
        assert running.run.data is not None and running.run.data.total == 112


def test_failed_run_carries_the_exception(store_root: Path) -> None:
    result = Runner(FailingFlow).run()
    assert result.status == "failed"
    assert isinstance(result.exception, ValueError)
    assert str(result.exception) == "the answer is not 42"
    assert result.run.status == "failed"


def test_flow_file_is_loaded_without_running_its_main_block(store_root: Path) -> None:
    result = Runner(FLOWS / "runner_script.py").run()
    assert result.status == "successful"
    assert result.run.data is not None and result.run.data.norm2 == 25


def test_artifacts_of_classes_from_a_flow_file_load_in_another_process(store_root: Path) -> None:
    result = Runner(str(FLOWS / "runner_script.py")).run()
    proc = run_python(
        "-c",
        f"from asyncflow import Run; p = Run({result.pathspec!r})['start'].task.data.point;"
        " print(type(p).__name__, p.x, p.y)",
        root=store_root,
        check=True,
    )
    assert proc.stdout == "Point 3 4\n"


def test_a_missing_flow_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError) as info:
        Runner(tmp_path / "nope.py")
    assert str(info.value) == f"flow file {tmp_path / 'nope.py'} does not exist"


def test_a_flow_file_with_two_flows_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(
        "from asyncflow import FlowSpec\nclass AFlow(FlowSpec): pass\nclass BFlow(FlowSpec): pass\n"
    )
    with pytest.raises(FlowFileError) as info:
        Runner(path)
    assert str(info.value) == (
        f"flow file {path} must define exactly one FlowSpec subclass to run; found AFlow, BFlow"
    )


def test_a_flow_file_with_a_base_flow_runs_the_derived_one(tmp_path: Path) -> None:
    path = tmp_path / "derived.py"
    path.write_text(
        "from asyncflow import FlowSpec\n"
        "class BaseFlow(FlowSpec): pass\n"
        "class DerivedFlow(BaseFlow): pass\n"
    )
    assert Runner(path).flow_cls.__name__ == "DerivedFlow"


def test_options_reach_the_run(tmp_path: Path) -> None:
    registry = Registry([CloudpickleSerializer()], plugins=False)
    runner = Runner(
        HookedFlow,
        datastore_root=tmp_path / "elsewhere",
        tags=["nightly"],
        namespace="team:search",
        registry=registry,
    )
    result = runner.run()
    assert result.root == str(tmp_path / "elsewhere")
    run = Run(result.pathspec, root=tmp_path / "elsewhere")
    assert run.user_tags == {"nightly", "team:search"}
    end = run["end"].task
    assert end is not None
    assert end.data.namespace_seen == "team:search"
    assert end["after"].encoding == "cloudpickle/1"


@pytest.mark.anyio
async def test_async_run_runs_on_the_callers_loop(store_root: Path) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    async def wait(flow: Any) -> None:
        seen.append(threading.get_ident())

    HOOKS["wait"] = wait
    result = await Runner(HookedFlow).async_run()
    assert result.status == "successful"
    assert seen == [loop_thread]
    assert result.run.data is not None and result.run.data.after == "done"


@pytest.mark.anyio
async def test_many_runs_share_one_loop_at_once(store_root: Path) -> None:
    runs = 4
    arrived = 0
    everyone = anyio.Event()

    async def wait(flow: Any) -> None:
        # Every run's `wait` step must be in progress at once to get past this.
        nonlocal arrived
        arrived += 1
        if arrived == runs:
            everyone.set()
        await everyone.wait()

    HOOKS["wait"] = wait
    results = []
    runner = Runner(HookedFlow)

    async def one() -> None:
        results.append(await runner.async_run())

    async with anyio.create_task_group() as tg:
        for _ in range(runs):
            tg.start_soon(one)
    assert sorted(r.status for r in results) == ["successful"] * runs
    assert len({r.run_id for r in results}) == runs


@pytest.mark.anyio
async def test_cancelling_the_callers_scope_cancels_the_run(store_root: Path) -> None:
    HOOKS["wait"] = lambda flow: anyio.sleep_forever()
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, TaskStarted) and event.pathspec.endswith("/wait/2"):
            scope.cancel()

    with anyio.CancelScope() as scope:
        await Runner(HookedFlow).async_run(on_event=on_event)
    assert scope.cancelled_caught
    started = events[0]
    assert isinstance(started, RunStarted)
    assert events[-1] == RunFinished(started.pathspec, "cancelled")
    run = Run(started.pathspec)
    assert run.status == "cancelled"
    assert [s.id for s in run.steps()] == ["start"]
    start = run["start"].task
    assert start is not None and start.successful and start.data.before == "committed"


@pytest.mark.anyio
async def test_on_event_is_called_on_the_loop_thread(store_root: Path) -> None:
    threads: set[int] = set()
    kinds: list[str] = []

    def on_event(event: Event) -> None:
        threads.add(threading.get_ident())
        kinds.append(type(event).__name__)

    await Runner(HookedFlow).async_run(on_event=on_event)
    # ArtifactStored comes from the worker thread that persisted the artifact.
    assert "ArtifactStored" in kinds
    assert threads == {threading.get_ident()}


@pytest.mark.anyio
async def test_stream_yields_every_event_in_order(store_root: Path) -> None:
    async with Runner(HookedFlow).stream() as events:
        seen = [e async for e in events]
    result = await events.wait()
    assert result is not None and result.status == "successful"
    p, namespace = result.pathspec, f"user:{current_user()}"
    assert seen == [
        RunStarted(p),
        TaskStarted(f"{p}/start/1"),
        ArtifactStored(f"{p}/start/1", "before", 1 + len("committed"), "msgpack/1"),
        TaskFinished(f"{p}/start/1"),
        TaskStarted(f"{p}/wait/2"),
        ArtifactStored(f"{p}/wait/2", "during", 1 + len("set"), "msgpack/1"),
        ArtifactStored(f"{p}/wait/2", "namespace_seen", 1 + len(namespace), "msgpack/1"),
        TaskFinished(f"{p}/wait/2"),
        TaskStarted(f"{p}/end/3"),
        ArtifactStored(f"{p}/end/3", "after", 1 + len("done"), "msgpack/1"),
        TaskFinished(f"{p}/end/3"),
        RunFinished(p, "successful"),
    ]


@pytest.mark.anyio
async def test_stream_cancel_ends_the_run_cancelled(store_root: Path) -> None:
    HOOKS["wait"] = lambda flow: anyio.sleep_forever()
    async with Runner(HookedFlow).stream() as events:
        async for event in events:
            if isinstance(event, TaskStarted) and "/wait/" in event.pathspec:
                events.cancel()
    result = await events.wait()
    assert result is not None and result.status == "cancelled"
    assert result.run.status == "cancelled"
    assert event == RunFinished(result.pathspec, "cancelled")


@pytest.mark.anyio
async def test_leaving_the_stream_block_by_an_error_cancels_the_run(store_root: Path) -> None:
    HOOKS["wait"] = lambda flow: anyio.sleep_forever()
    pathspec = ""
    with pytest.raises(KeyError):
        async with Runner(HookedFlow).stream() as events:
            async for event in events:
                if isinstance(event, RunStarted):
                    pathspec = event.pathspec
                if isinstance(event, TaskStarted) and "/wait/" in event.pathspec:
                    raise KeyError("caller gave up")
    assert Run(pathspec).status == "cancelled"


@pytest.mark.anyio
async def test_a_printing_callback_prints_around_the_task_logs(
    store_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await Runner(MixedFlow).async_run(on_event=print)
    out = capsys.readouterr().out
    p = result.pathspec
    assert f"TaskOutput(pathspec='{p}/grow/3', stream='stdout', line='grew to 4')\n" in out
    assert f"RunFinished(pathspec='{p}', status='successful')\n" in out
    grow = result.run["grow"].task
    assert grow is not None and grow.stdout == "grew to 4\n"


def test_resume_reruns_what_failed_and_clones_the_rest(store_root: Path) -> None:
    async def fail(flow: Any) -> None:
        raise ValueError("not yet")

    HOOKS["wait"] = fail
    runner = Runner(HookedFlow)
    failed = runner.run()
    assert failed.status == "failed"
    del HOOKS["wait"]
    resumed = runner.resume()
    assert resumed.status == "successful"
    assert resumed.run_id != failed.run_id
    start = resumed.run["start"].task
    end = resumed.run["end"].task
    assert start is not None and start.data.before == "committed"
    assert end is not None and end.data.after == "done"


@pytest.mark.anyio
async def test_a_cancelled_run_resumes(store_root: Path) -> None:
    HOOKS["wait"] = lambda flow: anyio.sleep_forever()
    runner = Runner(HookedFlow)
    async with runner.stream() as events:
        async for event in events:
            if isinstance(event, TaskStarted) and "/wait/" in event.pathspec:
                events.cancel()
    cancelled = await events.wait()
    assert cancelled is not None and cancelled.status == "cancelled"
    del HOOKS["wait"]
    async with runner.stream_resume(origin_run_id=cancelled.run_id) as resuming:
        seen = [e async for e in resuming]
    resumed = await resuming.wait()
    assert resumed is not None and resumed.status == "successful"
    p, origin = resumed.pathspec, cancelled.pathspec
    assert TaskCloned(f"{p}/start/1", f"{origin}/start/1") in seen
    assert [type(e).__name__ for e in seen if getattr(e, "pathspec", "").startswith(f"{p}/w")] == [
        "TaskStarted",
        "ArtifactStored",
        "ArtifactStored",
        "TaskFinished",
    ]


def test_parameters_are_passed_to_the_run(store_root: Path) -> None:
    result = Runner(ParamFlow).run(count=21)
    assert result.run.data is not None and result.run.data.doubled == 42


@pytest.mark.anyio
async def test_a_run_that_cannot_start_raises_its_error_from_the_stream(
    store_root: Path,
) -> None:
    seen: list[Event] = []
    with pytest.raises(ParameterError) as info:
        async with Runner(ParamFlow).stream(count="many") as events:
            seen.extend([e async for e in events])
    assert seen == []
    assert str(info.value) == "parameter 'count': 'many' is not a valid integer."
    with pytest.raises(ParameterError):
        await events.wait()


@pytest.mark.anyio
async def test_cancelling_during_a_sync_step_commits_nothing_of_it(store_root: Path) -> None:
    entered, release = anyio.Event(), threading.Event()
    THREAD_GATES.update(entered=entered, release=release)
    events: list[Event] = []

    async def cancel_then_release() -> None:
        await entered.wait()
        scope.cancel()
        release.set()  # the thread cannot be interrupted: its body runs to its end

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_then_release)
            await Runner(SyncWaitFlow).async_run(on_event=events.append)
    started = events[0]
    assert isinstance(started, RunStarted)
    assert events[-1] == RunFinished(started.pathspec, "cancelled")
    run = Run(started.pathspec)
    assert run.status == "cancelled"
    assert [s.id for s in run.steps()] == ["start"]


@pytest.mark.anyio
async def test_the_blocking_run_works_where_a_loop_already_runs(store_root: Path) -> None:
    result = Runner(HookedFlow).run()  # as in a notebook cell; blocks this loop meanwhile
    assert result.status == "successful"


def test_a_flow_file_is_imported_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "once.py"
    path.write_text("from asyncflow import FlowSpec\nclass OnceFlow(FlowSpec): pass\n")
    first = Runner(path).flow_cls
    assert Runner(str(path)).flow_cls is first
    path.write_text("from asyncflow import FlowSpec\nclass TwiceFlow(FlowSpec): pass\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert Runner(path).flow_cls.__name__ == "TwiceFlow"


def test_show_output_prints_the_run_as_the_cli_does(
    store_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = Runner(MixedFlow, show_output=True).run()
    lines = [line.split(" ", 2)[2] for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == f"Workflow starting (run-id {result.run_id}):"
    assert f"[{result.run_id}/grow/3] grew to 4" in lines
    assert lines[-1] == "Done!"


def test_leaving_a_runner_closes_the_datastore_it_opened(store_root: Path) -> None:
    with Runner(MixedFlow) as runner:
        assert runner.run().successful
        engine = runner._engine
        assert engine is not None
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        engine.datastore.metadata.list_flows()
    assert runner.run().successful  # a later run opens it again
    runner.cleanup()
