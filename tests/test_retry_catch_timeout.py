"""@retry, @catch and @timeout: attempts, waits, recovery and deadlines."""

from __future__ import annotations

import itertools
import pickle
import threading
from pathlib import Path

import anyio
import pytest

from asyncflow import (
    Engine,
    ExceptionWrapper,
    Flow,
    FlowSpec,
    Run,
    StepTimeoutError,
    Task,
    catch,
    retry,
    step,
    timeout,
)
from asyncflow.artifacts import TaskArtifacts
from asyncflow.decorators import CatchSpec, RetrySpec, TimeoutSpec, step_specs
from asyncflow.events import Event, TaskFailed, TaskFinished, TaskRetrying
from asyncflow.exceptions import FlowDefinitionError, LintError, NotFoundError
from asyncflow.graph import FlowGraph
from asyncflow.store import AttemptRecord, Datastore
from tests.flows import retrying
from tests.flows.retrying import (
    AlwaysFailsFlow,
    AsyncTimeoutFlow,
    AtOnceRetryFlow,
    CatchFlow,
    CatchOnForeachFlow,
    CaughtAsyncTimeoutFlow,
    CaughtSyncTimeoutFlow,
    FlakyFlow,
    QuietCatchFlow,
    SiblingFailureFlow,
    StuckFlow,
    SyncSiblingFailureFlow,
    SyncTimeoutFlow,
    WaitingRetryFlow,
)

pytestmark = pytest.mark.anyio


def test_decorators_only_record_specs() -> None:
    def body(self: FlowSpec) -> None: ...

    marked = catch(var="err")(retry(times=4, minutes_between_retries=0.5)(timeout(minutes=1)(body)))
    assert step(marked) is body
    assert step_specs(body) == (
        TimeoutSpec(60.0),
        RetrySpec(4, 0.5),
        CatchSpec("err", True),
    )
    assert step_specs(retry(catch(lambda: None))) == (CatchSpec(None, True), RetrySpec(3, None))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: retry(times=-1), "@retry(times=-1) must be a whole number >= 0"),
        (
            lambda: retry(minutes_between_retries=-2),
            "@retry(minutes_between_retries=-2) must be >= 0",
        ),
        (lambda: catch(var="_hidden"), "@catch(var='_hidden') must name a public attribute"),
        (lambda: timeout(), "@timeout needs a positive seconds=, minutes= or hours="),
    ],
)
def test_bad_decorator_arguments_fail_clearly(make: object, message: str) -> None:
    with pytest.raises(FlowDefinitionError) as info:
        make()  # type: ignore[operator]
    assert info.value.message == message


def test_a_decorator_given_twice_is_refused() -> None:
    def twice(self: FlowSpec) -> None: ...

    with pytest.raises(FlowDefinitionError) as info:
        retry(retry(twice))
    assert info.value.message == "step 'twice' has @retry twice"


async def test_retry_runs_again_until_success_and_keeps_every_attempt(store_root: Path) -> None:
    events: list[Event] = []
    result = await Engine(listeners=[events.append]).run(FlakyFlow)
    assert result.successful
    run = Run(result.pathspec)
    flaky = run["flaky"].task
    assert flaky is not None and flaky.successful
    assert flaky.current_attempt == 2
    assert flaky.stdout == "attempt 2\n"
    assert flaky.data.partial == 2
    for attempt in (0, 1):
        earlier = Task(flaky.pathspec, attempt=attempt)
        assert earlier.stdout == f"attempt {attempt}\n"
        assert earlier.stderr.endswith(f"ValueError: flaky failure {attempt}\n")
        assert 'raise ValueError(f"flaky failure {current.retry_count}")' in earlier.stderr
    assert run.data is not None and run.data.seen == ("from start", 2)
    retries = [e for e in events if isinstance(e, TaskRetrying)]
    assert [(e.pathspec, e.attempt, e.exception, e.wait_seconds) for e in retries] == [
        (flaky.pathspec, 1, "ValueError: flaky failure 0", 0.0),
        (flaky.pathspec, 2, "ValueError: flaky failure 1", 0.0),
    ]
    assert [e for e in events if isinstance(e, TaskFinished | TaskFailed)][1] == TaskFinished(
        flaky.pathspec
    )


async def test_each_attempt_is_recorded_with_its_status_and_times(store_root: Path) -> None:
    run = Run((await Engine().run(FlakyFlow)).pathspec)
    attempts = run["flaky"].task.attempts  # type: ignore[union-attr]
    assert [(a.number, a.status) for a in attempts] == [
        (0, "failed"), (1, "failed"), (2, "successful")
    ]  # fmt: skip
    for earlier, later in itertools.pairwise(attempts):
        assert earlier.finished_at is not None and earlier.started_at <= earlier.finished_at
        assert earlier.finished_at <= later.started_at
    task = run["flaky"].task
    assert task is not None and attempts[0].started_at == task.created_at
    assert attempts[-1].finished_at == task.finished_at
    caught = Run((await Engine().run(CatchFlow)).pathspec)["boom"].task
    assert caught is not None
    assert [a.status for a in caught.attempts] == ["failed", "successful"]  # the caught one commits


async def test_metadata_lists_each_stored_attempt_at_its_own_start(store_root: Path) -> None:
    task = Run((await Engine().run(FlakyFlow)).pathspec)["flaky"].task
    assert task is not None
    meta = Datastore(store_root).metadata
    run_id, task_id = int(task.pathspec.split("/")[1]), int(task.id)
    for n in (0, 1):  # move the failed attempts' times where the task's start is not
        meta.put_attempt(run_id, AttemptRecord(task_id, n, "failed", 1000.0 + n, 1000.5 + n), {})
    stored = meta.list_attempts(run_id, [task_id])
    entries = [(m.value, m.created_at, m.type) for m in task.metadata if m.name == "attempt"]
    assert entries == [("0", 1_000_000, "attempt"), ("1", 1_001_000, "attempt"),
                       ("2", int(stored[2].started_at * 1000), "attempt")]  # fmt: skip


async def test_an_attempt_that_does_not_exist_is_not_found(store_root: Path) -> None:
    result = await Engine().run(FlakyFlow)
    pathspec = f"{result.pathspec}/flaky/2"
    with pytest.raises(NotFoundError) as info:
        Task(pathspec, attempt=3)
    assert info.value.message == f"attempt '{pathspec} attempt 3' does not exist"


async def test_retries_spent_fail_the_run_with_the_last_error(store_root: Path) -> None:
    result = await Engine().run(AlwaysFailsFlow)
    assert result.status == "failed"
    assert result.failed_pathspec == f"AlwaysFailsFlow/{result.run_id}/doomed/2"
    assert str(result.exception) == "no luck on attempt 1"
    doomed = Run(result.pathspec)["doomed"].task
    assert doomed is not None and not doomed.successful
    assert doomed.current_attempt == 1
    assert doomed.exception is not None
    assert doomed.exception.stacktrace.endswith("RuntimeError: no luck on attempt 1\n")
    assert (doomed.exception.type, doomed.exception.exception) == (
        "builtins.RuntimeError",
        "no luck on attempt 1",
    )
    assert Task(doomed.pathspec, attempt=0).stderr.endswith("RuntimeError: no luck on attempt 0\n")


async def test_retry_waits_through_the_engine_clock_without_blocking(store_root: Path) -> None:
    waits: list[float] = []
    retrying.signals["b_done"] = b_done = anyio.Event()

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await b_done.wait()  # only returns if branch b could run meanwhile

    result = await Engine(sleep=fake_sleep).run(WaitingRetryFlow)
    assert result.successful
    assert waits == [120.0, 120.0]  # the flow asked for 2 minutes between retries
    a = Run(result.pathspec)["a"].task
    assert a is not None and a.current_attempt == 2


async def test_retry_without_a_wait_retries_at_once_like_metaflows_local_runtime(
    store_root: Path,
) -> None:
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)

    result = await Engine(sleep=recording_sleep).run(AtOnceRetryFlow)
    assert result.successful
    assert [w for w in waits if w > 0] == []
    a = Run(result.pathspec)["start"].task
    assert a is not None and a.current_attempt == 2


async def test_catch_lets_the_flow_go_on_with_the_exception(store_root: Path) -> None:
    result = await Engine().run(CatchFlow)
    assert result.successful
    run = Run(result.pathspec)
    boom = run["boom"].task
    assert boom is not None and boom.successful
    assert boom.current_attempt == 1  # the last of two attempts failed, and @catch kept it
    error = boom.data.error
    assert isinstance(error, ExceptionWrapper)
    assert (error.type, error.exception) == ("builtins.KeyError", "'missing'")
    assert str(error) == error.stacktrace  # as Metaflow's wrapper prints
    assert error.stacktrace.endswith("KeyError: 'missing'\n")
    assert '{"present": 1}["missing"]' in error.stacktrace
    assert pickle.loads(pickle.dumps(error)) == error
    # what the caught attempt set before it raised is kept, as in Metaflow
    assert boom.data.before == "set by attempt 1, before the failure"
    assert boom.data.kept == "from start"
    assert boom.stderr.startswith(f"@catch caught an exception from {boom.pathspec}:\n")
    assert boom.stderr.endswith("KeyError: 'missing'\n")
    assert Task(boom.pathspec, attempt=0).stderr.endswith("KeyError: 'missing'\n")
    assert boom.metadata_dict["attempt"] == "1"
    assert [m.value for m in boom.metadata if m.name == "attempt"] == ["0", "1"]
    assert run.data is not None and run.data.summary == "from start; caught builtins.KeyError"


async def test_catch_without_var_or_printing_just_goes_on(store_root: Path) -> None:
    result = await Engine().run(QuietCatchFlow)
    assert result.successful
    boom = Run(result.pathspec)["boom"].task
    assert boom is not None and boom.current_attempt == 0  # caught in its only attempt
    assert boom.stderr == ""
    assert [a.id for a in boom.artifacts] == []
    assert boom.exception is None  # handled: the task did not fail


async def test_an_async_step_is_cancelled_at_its_deadline_and_retried(store_root: Path) -> None:
    events: list[Event] = []
    result = await Engine(listeners=[events.append]).run(AsyncTimeoutFlow)
    assert result.successful
    hang = Run(result.pathspec)["hang"].task
    assert hang is not None and hang.current_attempt == 1
    assert hang.data.attempts_seen == 1
    message = "step 'hang' timed out after 0.05 seconds (@timeout)"
    assert (
        Task(hang.pathspec, attempt=0).stderr
        == f"asyncflow.exceptions.StepTimeoutError: {message}\n"
    )
    retried = [e for e in events if isinstance(e, TaskRetrying)]
    assert [e.exception for e in retried] == [f"StepTimeoutError: {message}"]


async def test_a_sync_step_fails_on_time_and_its_thread_is_abandoned(store_root: Path) -> None:
    gate, finished = threading.Event(), threading.Event()
    retrying.signals.update(gate=gate, abandoned_finished=finished)
    try:
        result = await Engine().run(SyncTimeoutFlow)
    finally:
        gate.set()
    assert result.successful
    block = Run(result.pathspec)["block"].task
    assert block is not None
    timed_out = block.data.timed_out
    assert (timed_out.type, timed_out.exception) == (
        "metaflow.plugins.timeout_decorator.TimeoutException",
        "step 'block' timed out after 0.05 seconds (@timeout)",
    )
    await anyio.to_thread.run_sync(finished.wait)
    assert "too_late" not in Run(result.pathspec)["block"].task  # type: ignore[operator]


@pytest.mark.parametrize("flow", [CaughtSyncTimeoutFlow, CaughtAsyncTimeoutFlow])
async def test_catch_after_a_timeout_keeps_what_the_step_set_by_its_deadline(
    store_root: Path, flow: type[FlowSpec]
) -> None:
    gate, finished = threading.Event(), threading.Event()
    retrying.signals.update(gate=gate, abandoned_finished=finished)
    try:
        result = await Engine().run(flow)
    finally:
        gate.set()
    assert result.successful
    run = Run(result.pathspec)
    slow = run["slow"].task
    assert slow is not None and slow.current_attempt == 0  # caught in its own attempt
    assert slow.successful
    assert slow.data.before == 1
    assert (slow.data.err.type, slow.data.err.exception) == (
        "metaflow.plugins.timeout_decorator.TimeoutException",
        "step 'slow' timed out after 1 second (@timeout)",
    )
    assert run["end"].task.data.passed_down == 1  # type: ignore[union-attr]
    if flow is CaughtSyncTimeoutFlow:  # its thread goes on, and its late work is left out
        await anyio.to_thread.run_sync(finished.wait)
    assert "after" not in Run(result.pathspec)["slow"].task  # type: ignore[operator]


def test_a_snapshot_of_a_flow_object_does_not_follow_it(store_root: Path) -> None:
    artifacts = TaskArtifacts(Datastore(), "slow", "F/1/slow/2", {})
    flow = CaughtSyncTimeoutFlow._for_task(artifacts)
    flow.kept = [1]
    snapshot = flow._snapshot()
    flow.kept = [2]  # what the abandoned body does after the deadline
    flow.late = 3
    assert snapshot.kept == [1]
    assert snapshot._artifacts is not None and snapshot._artifacts.assigned == {"kept"}
    assert snapshot._artifact_values() == {"kept": [1]}
    assert flow._artifacts is not None and flow._artifacts.assigned == {"kept", "late"}


async def test_a_timeout_that_is_never_caught_fails_the_run(store_root: Path) -> None:
    result = await Engine().run(StuckFlow)
    assert result.status == "failed"
    assert isinstance(result.exception, StepTimeoutError)
    assert result.traceback == (
        "asyncflow.exceptions.StepTimeoutError: "
        "step 'stuck' timed out after 0.05 seconds (@timeout)\n"
    )


async def test_a_failure_cancels_running_siblings(store_root: Path) -> None:
    retrying.signals["slow_started"] = anyio.Event()
    events: list[Event] = []
    result = await Engine(listeners=[events.append]).run(SiblingFailureFlow)
    assert result.status == "failed"
    run = Run(result.pathspec)
    fail = run["fail"].task
    assert fail is not None and result.failed_pathspec == fail.pathspec == run.failed_pathspec
    assert run.exception is not None and run.exception.endswith("KeyError: 'fail fast'\n")
    assert not run.successful and run.finished and run.status == "failed"
    assert [s.id for s in run.steps()] == ["start", "fail"]
    finished = [e.pathspec.split("/")[2] for e in events if isinstance(e, TaskFinished)]
    assert finished == ["start"]


async def test_catch_on_a_foreach_step_is_refused_before_the_run(store_root: Path) -> None:
    with pytest.raises(LintError) as info:
        await Engine().run(CatchOnForeachFlow)
    assert info.value.findings == [
        f"step 'fan' ({FlowGraph(CatchOnForeachFlow)['fan'].location}): "
        "@catch is not supported on a foreach step, whose fan-out needs the list it failed "
        "to make; move the work that may fail into another step"
    ]


async def test_a_failure_abandons_a_sync_sibling_stuck_in_its_thread(store_root: Path) -> None:
    gate = threading.Event()
    retrying.signals.update(slow_started=anyio.Event(), gate=gate)
    try:
        result = await Engine().run(SyncSiblingFailureFlow)
    finally:
        gate.set()
    assert result.status == "failed" and str(result.exception) == "'fail fast'"
    run = Run(result.pathspec)
    assert [s.id for s in run.steps()] == ["start", "fail"]  # slow never commits


async def test_cancelling_during_a_retry_wait_cancels_the_run(store_root: Path) -> None:
    waiting = anyio.Event()

    async def endless_wait(seconds: float) -> None:
        waiting.set()
        await anyio.sleep_forever()

    result_box: list[object] = []
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            result_box.append(await Engine(sleep=endless_wait).run(AlwaysFailsFlow))

        tg.start_soon(run)
        await waiting.wait()
        tg.cancel_scope.cancel()
    assert result_box == []
    run_record = Flow("AlwaysFailsFlow").latest_run
    assert run_record is not None and run_record.status == "cancelled"
    assert "doomed" not in run_record  # its first attempt's logs wait; the task never committed
