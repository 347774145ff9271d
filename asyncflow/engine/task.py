"""Running one task: its body (awaited, or in a worker thread), then its commit."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from ..artifacts import TaskArtifacts
from ..current import TaskContext, enter_task, leave_task
from ..decorators import CatchSpec, ExceptionWrapper, RetrySpec, TimeoutSpec, find_spec
from ..events import (
    ArtifactStored,
    TaskFailed,
    TaskFinished,
    TaskOutput,
    TaskRetrying,
    TaskStarted,
)
from ..exceptions import (
    AsyncflowException,
    ForeachError,
    InvalidTransitionError,
    StepTimeoutError,
)
from ..flowspec import FlowSpec, describe_transition
from ..graph import StepNode
from ..logs import TaskCapture, start_capture, stop_capture
from ..store import ArtifactRef, TaskRecord
from .context import RunContext
from .prefetch import prefetch, to_prefetch
from .records import TaskInput, TaskResult
from .resume import clone_task


class TaskError(Exception):
    """A task failed; carries its pathspec and the user's exception."""

    def __init__(self, pathspec: str, exception: BaseException, formatted: str) -> None:
        super().__init__(f"{pathspec}: {exception!r}")
        self.pathspec, self.exception, self.formatted = pathspec, exception, formatted


class Inputs(list[FlowSpec]):
    """The ``inputs`` of a join step: one view per parent task, also by step name."""

    def __getattr__(self, step: str) -> FlowSpec:
        for flow in self:
            artifacts = flow._artifacts
            if artifacts is not None and artifacts.step == step:
                return flow
        raise AttributeError(f"no input comes from step '{step}'")


async def run_task(run: RunContext, inp: TaskInput) -> TaskResult:
    """Run one task to its commit, retrying it as ``@retry`` says.

    Raise :class:`TaskError` if its last attempt fails and ``@catch`` does not
    recover it. Only the attempt that ends the task commits the task record;
    the logs of earlier attempts are stored as they fail.
    """
    origin = run.resume.clone_of(inp) if run.resume is not None else None
    if origin is not None:
        return await clone_task(run, inp, origin)
    task = _Task.create(run, inp)
    run.emit(TaskStarted(task.pathspec, tuple((f.index, f.num_splits) for f in inp.frames)))
    retries = task.policy.retries
    for attempt in range(retries + 1):
        try:
            return await _attempt(run, task, attempt)
        except _AttemptFailed as failed:
            if attempt == retries:
                return await _give_up(run, task, attempt, failed)
            await _retry_later(run, task, attempt, failed)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _Policy:
    """What a step's decorators ask of the attempt loop."""

    retries: int = 0
    wait_seconds: float = 0.0
    catch: CatchSpec | None = None
    timeout: TimeoutSpec | None = None

    @classmethod
    def of(cls, node: StepNode) -> _Policy:
        retry: RetrySpec | None = find_spec(node.func, RetrySpec)
        return cls(
            retry.times if retry else 0,
            60 * retry.minutes_between_retries if retry else 0.0,
            find_spec(node.func, CatchSpec),
            find_spec(node.func, TimeoutSpec),
        )


@dataclass
class _Task:
    """One task across its attempts."""

    node: StepNode
    inp: TaskInput
    task_id: int
    pathspec: str
    policy: _Policy
    started: float

    @classmethod
    def create(cls, run: RunContext, inp: TaskInput) -> _Task:
        node = run.graph[inp.step]
        task_id = run.next_task_id()
        pathspec = f"{run.flow_name}/{run.run_id}/{node.name}/{task_id}"
        return cls(node, inp, task_id, pathspec, _Policy.of(node), time.time())

    def record(self, run: RunContext, attempt: int, status: str) -> TaskRecord:
        return TaskRecord(
            run.flow_name, run.record.run_id, self.node.name, self.task_id, status, attempt,
            self.started, time.time(), [f.to_record() for f in self.inp.frames],
            [p.task_id for p in self.inp.parents],
        )  # fmt: skip


class _AttemptFailed(Exception):
    """One attempt failed; carries the user's exception, its traceback and the output."""

    def __init__(self, exception: Exception, formatted: str, logs: dict[str, str]) -> None:
        super().__init__(formatted)
        self.exception, self.formatted, self.logs = exception, formatted, logs


class _Attempt:
    """The flow object, capture and ``current`` of one attempt, entered as a context."""

    def __init__(self, run: RunContext, task: _Task, attempt: int) -> None:
        node, inp = task.node, task.inp
        self.artifacts = TaskArtifacts(
            run.datastore, node.name, task.pathspec, _inherited(run, node, inp),
            _stored_event(run, task.pathspec),
        )  # fmt: skip
        self.flow = run.flow_cls._for_task(self.artifacts, inp.frames, is_join=node.type == "join")
        self.capture = TaskCapture(
            lambda stream, line: run.emit(TaskOutput(task.pathspec, stream, line))
        )
        self._context = _task_context(run, node.name, task.task_id, attempt)

    def __enter__(self) -> _Attempt:
        self._tokens = (enter_task(self._context), start_capture(self.capture))
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop_capture(self._tokens[1])
        leave_task(self._tokens[0])
        self.capture.flush()

    def logs(self, traceback_text: str = "") -> dict[str, str]:
        return {
            "stdout": self.capture.text("stdout"),
            "stderr": self.capture.text("stderr") + traceback_text,
        }


Outcome = tuple[dict[str, ArtifactRef], list[Any] | None]


async def _attempt(run: RunContext, task: _Task, attempt: int) -> TaskResult:
    node = task.node
    with _Attempt(run, task, attempt) as current_attempt:
        outcome = await _guard(
            _execute(run, node, current_attempt.flow, _join_args(run, node, task.inp), task.policy)
        )
    return await _settle(run, task, attempt, current_attempt, outcome)


async def _guard(body: Awaitable[Outcome]) -> Outcome | Exception:
    try:
        return await body
    except Exception as exc:
        return exc


async def _settle(
    run: RunContext, task: _Task, attempt: int, done: _Attempt, outcome: Outcome | Exception
) -> TaskResult:
    if isinstance(outcome, Exception):
        formatted = _user_traceback(outcome)
        raise _AttemptFailed(outcome, formatted, done.logs(formatted))
    refs, items = outcome
    return await _succeed(run, task, attempt, refs, items, done.logs())


async def _succeed(
    run: RunContext,
    task: _Task,
    attempt: int,
    refs: dict[str, ArtifactRef],
    items: list[Any] | None,
    logs: dict[str, str],
) -> TaskResult:
    try:
        await _commit(run, task.record(run, attempt, "successful"), list(refs.values()), logs)
    except Exception as exc:  # a full disk or a locked database: this attempt failed
        formatted = _user_traceback(exc)
        failed_logs = {**logs, "stderr": logs.get("stderr", "") + formatted}
        raise _AttemptFailed(exc, formatted, failed_logs) from exc
    run.emit(TaskFinished(task.pathspec))
    return TaskResult(task.node.name, task.task_id, task.pathspec, refs, task.inp.frames, items)


async def _retry_later(run: RunContext, task: _Task, attempt: int, failed: _AttemptFailed) -> None:
    """Keep the failed attempt's logs, announce the retry, and wait without blocking the loop."""
    await _keep_logs(run, task, attempt, failed.logs)
    run.emit(
        TaskRetrying(
            task.pathspec, attempt + 1, _one_line(failed.exception), failed.formatted,
            task.policy.wait_seconds,
        )
    )  # fmt: skip
    await run.sleep(task.policy.wait_seconds)


_STORE_ERRORS = (AsyncflowException, OSError, sqlite3.Error)


async def _keep_logs(run: RunContext, task: _Task, attempt: int, logs: dict[str, str]) -> None:
    """Store a failed attempt's output; best effort, as the store may be what failed."""
    with contextlib.suppress(*_STORE_ERRORS):
        await anyio.to_thread.run_sync(
            run.datastore.metadata.put_logs, run.record.run_id, task.task_id, attempt, logs,
            limiter=run.thread_limiter,
        )  # fmt: skip


async def _give_up(
    run: RunContext, task: _Task, attempt: int, failed: _AttemptFailed
) -> TaskResult:
    """The last attempt failed: let ``@catch`` recover the task, or fail it for good."""
    catch = task.policy.catch
    if catch is not None:
        await _keep_logs(run, task, attempt, failed.logs)
        try:
            return await _fallback(run, task, attempt + 1, catch, failed)
        except _AttemptFailed as fallback_failed:
            failed, attempt = fallback_failed, attempt + 1
    record = task.record(run, attempt, "failed")
    record.exception = failed.formatted
    with contextlib.suppress(*_STORE_ERRORS):  # a full disk may refuse even this record
        await _commit(run, record, [], failed.logs)
    run.emit(TaskFailed(task.pathspec, _one_line(failed.exception), failed.formatted))
    raise TaskError(task.pathspec, failed.exception, failed.formatted) from failed.exception


async def _fallback(
    run: RunContext, task: _Task, attempt: int, catch: CatchSpec, failed: _AttemptFailed
) -> TaskResult:
    """Metaflow's ``@catch`` fallback: an extra attempt that only records the exception."""
    with _Attempt(run, task, attempt) as fallback:
        if catch.print_exception:
            fallback.capture.write(
                "stderr", f"@catch caught an exception from {task.pathspec}:\n{failed.formatted}"
            )
        outcome = await _guard(_recover(run, task.node, fallback.flow, catch, failed))
    return await _settle(run, task, attempt, fallback, outcome)


async def _recover(
    run: RunContext, node: StepNode, flow: FlowSpec, catch: CatchSpec, failed: _AttemptFailed
) -> Outcome:
    if catch.var is not None:
        setattr(flow, catch.var, ExceptionWrapper(failed.exception, failed.formatted))
    if node.type != "end":
        object.__setattr__(flow, "_transition", (tuple(node.out_funcs), None))
    return await anyio.to_thread.run_sync(_finish, run, node, flow, limiter=run.thread_limiter)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _inherited(run: RunContext, node: StepNode, inp: TaskInput) -> dict[str, ArtifactRef]:
    # Joins inherit nothing implicitly (merge_artifacts does that); parameters reach every step.
    refs = {} if node.type == "join" or not inp.parents else dict(inp.parents[0].artifacts)
    refs.update(run.param_refs)
    return refs


def _stored_event(run: RunContext, pathspec: str) -> Callable[[ArtifactRef], None]:
    return lambda ref: run.emit(ArtifactStored(pathspec, ref.name, ref.size, ref.encoding))


def _task_context(run: RunContext, step: str, task_id: int, attempt: int) -> TaskContext:
    return TaskContext(
        flow_name=run.flow_name,
        run_id=run.run_id,
        step_name=step,
        task_id=str(task_id),
        retry_count=attempt,
        origin_run_id=str(run.record.origin_run_id) if run.record.origin_run_id else None,
        namespace=run.namespace,
        username=run.record.user,
        tags=frozenset(run.record.tags + run.record.system_tags),
    )


def _join_args(run: RunContext, node: StepNode, inp: TaskInput) -> tuple[Any, ...]:
    if node.type != "join":
        return ()
    views = Inputs(
        run.flow_cls._for_task(
            TaskArtifacts(run.datastore, p.step, p.pathspec, p.artifacts), p.frames
        )
        for p in inp.parents
    )
    return (views,)


async def _execute(
    run: RunContext, node: StepNode, flow: FlowSpec, args: tuple[Any, ...], policy: _Policy
) -> Outcome:
    if policy.timeout is None and not node.is_async:

        def body_then_finish() -> Outcome:
            node.func(flow, *args)
            return _finish(run, node, flow)

        # A thread cannot be killed: a cancelled task (Ctrl-C, a failed sibling, a timeout)
        # abandons its thread, and nothing reads the flow object it goes on changing.
        return await anyio.to_thread.run_sync(
            body_then_finish, limiter=run.thread_limiter, abandon_on_cancel=True
        )
    with _deadline(node, policy.timeout):
        if node.is_async:
            if to_prefetch(flow, node.func):  # a thread hop costs more than nothing to load
                await anyio.to_thread.run_sync(
                    prefetch, flow, node.func, limiter=run.thread_limiter
                )
            await node.func(flow, *args)
        else:
            await anyio.to_thread.run_sync(
                node.func, flow, *args, limiter=run.thread_limiter, abandon_on_cancel=True
            )
    return await anyio.to_thread.run_sync(_finish, run, node, flow, limiter=run.thread_limiter)


@contextmanager
def _deadline(node: StepNode, limit: TimeoutSpec | None) -> Iterator[None]:
    """Cancel the body at ``limit`` and fail the attempt with :class:`StepTimeoutError`."""
    if limit is None:
        yield
        return
    with anyio.move_on_after(limit.seconds) as scope:
        yield
    if scope.cancelled_caught:
        raise StepTimeoutError(node.name, limit.describe())


def _finish(
    run: RunContext, node: StepNode, flow: FlowSpec
) -> tuple[dict[str, ArtifactRef], list[Any] | None]:
    """Check the transition, then persist (runs in a worker thread)."""
    _check_transition(node, flow)
    items = _foreach_items(run, node, flow) if node.type == "foreach" else None
    assert flow._artifacts is not None
    return flow._artifacts.persist(flow._artifact_values()), items


def _check_transition(node: StepNode, flow: FlowSpec) -> None:
    if node.type == "end":
        if flow._transition is not None:
            raise AsyncflowException("the end step must not call self.next()")
        return
    expected = describe_transition(tuple(node.out_funcs), node.foreach_param)
    actual = None if flow._transition is None else describe_transition(*flow._transition)
    if expected != actual:
        raise InvalidTransitionError(node.name, expected, actual)


def _foreach_items(run: RunContext, node: StepNode, flow: FlowSpec) -> list[Any]:
    var = node.foreach_param
    assert var is not None
    try:
        value = getattr(flow, var)
    except AttributeError:
        raise ForeachError(node.name, var, "was never set") from None
    try:
        items = list(value)
    except TypeError:
        raise ForeachError(
            node.name, var, f"is not iterable (it is a {type(value).__name__})"
        ) from None
    if not items:
        raise ForeachError(node.name, var, "is empty")
    if len(items) > run.max_num_splits:
        raise ForeachError(
            node.name, var, f"has {len(items)} items, more than --max-num-splits "
            f"({run.max_num_splits}); raise the limit to run it",
        )  # fmt: skip
    return items


async def _commit(
    run: RunContext, record: TaskRecord, refs: list[ArtifactRef], logs: dict[str, str]
) -> None:
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            run.datastore.commit_task, record, refs, logs, limiter=run.thread_limiter
        )


_ENGINE_MODULES = ("asyncflow.", "anyio.", "asyncio.", "trio.", "concurrent.", "threading")


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code down, without the engine's frames above it."""
    if isinstance(exc, StepTimeoutError):
        return "".join(traceback.format_exception_only(exc))
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith(_ENGINE_MODULES):
        tb = tb.tb_next
    if tb is None and isinstance(exc, AsyncflowException):
        return "".join(traceback.format_exception_only(exc))  # ours, and says it all
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
