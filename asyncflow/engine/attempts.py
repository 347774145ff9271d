"""The attempt loop around a task's body: ``@retry``, ``@catch`` and ``@timeout``.

Each attempt gets a fresh flow object, output capture and ``current``. A failed
attempt's logs are stored at once; only the attempt that ends the task commits
the task record, so a task is never half visible, whatever happens.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ..artifacts import TaskArtifacts
from ..current import enter_task, leave_task
from ..decorators import (
    CatchSpec,
    EnvironmentSpec,
    ExceptionWrapper,
    IsolatedSpec,
    RetrySpec,
    SecretsSpec,
    TimeoutSpec,
    find_spec,
    step_specs,
)
from ..events import TaskFailed, TaskFinished, TaskOutput, TaskRetrying, TaskStarted
from ..exceptions import (
    AsyncflowException,
    FailureHandledByCatchError,
    StepExitError,
    StepTimeoutError,
    WorkerDiedError,
)
from ..flowspec import FlowSpec
from ..graph import StepNode
from ..logs import TaskCapture, start_capture, stop_capture
from ..store import AttemptRecord, TaskRecord
from .cards import finish_cards, open_cards
from .context import RunContext
from .environ import task_environment
from .parents import parent_ids
from .records import TaskInput, TaskResult
from .remote import fence, submit_attempt
from .resume import clone_task, reuse_task
from .task import (
    Outcome,
    TaskError,
    commit,
    execute,
    finish,
    inherited_refs,
    input_reads,
    is_gang_worker,
    join_args,
    stored_event,
    task_context,
    user_traceback,
)

if TYPE_CHECKING:
    from ..cards.runtime import TaskCards
    from ..executors import Executor

__all__ = ["AttemptFailed", "one_attempt", "run_task"]


async def run_task(run: RunContext, inp: TaskInput, *, reuse: bool = True) -> TaskResult:
    """Run one task to its commit, retrying it as ``@retry`` says.

    Raise :class:`TaskError` if its last attempt fails and ``@catch`` does not
    recover it. Only the attempt that ends the task commits the task record;
    the logs of earlier attempts are stored as they fail. In a resumed run, a task
    the origin run finished is copied instead, unless ``reuse`` is False.
    """
    origin = run.resume.clone_of(inp) if run.resume is not None and reuse else None
    if origin is not None and origin.run_id == run.record.run_id:  # a run continued in place
        return await reuse_task(run, inp, origin)
    if origin is not None:
        return await clone_task(run, inp, origin)
    # A task the dead process of a continued run had registered keeps its id, and its
    # attempt that died with that process is not counted: it runs again from there.
    known = run.resume.unfinished_of(inp) if run.resume is not None and reuse else None
    task = _Task.create(run, inp, known.task_id if known is not None else None)
    run.emit(TaskStarted(task.pathspec, tuple((f.index, f.num_splits) for f in inp.frames)))
    retries = task.policy.retries
    first = min(known.attempt + 1, retries) if known is not None else 0
    for attempt in range(first, retries + 1):
        try:
            return await _attempt(run, task, attempt)
        except AttemptFailed as failed:
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
    isolated: bool = False
    #: Whether the step sets variables (``@environment``, ``@secrets``).
    environment: bool = False

    @classmethod
    def of(cls, run: RunContext, node: StepNode) -> _Policy:
        """The step's policy, worked out once per run (every task of a step shares it)."""
        policy: _Policy | None = run.step_policies.get(node.name)
        if policy is None:
            policy = run.step_policies[node.name] = cls._of(node)
        return policy

    @classmethod
    def _of(cls, node: StepNode) -> _Policy:
        retry: RetrySpec | None = find_spec(node.func, RetrySpec)
        return cls(
            retry.times if retry else 0,
            60 * (retry.minutes_between_retries or 0.0) if retry else 0.0,
            find_spec(node.func, CatchSpec),
            find_spec(node.func, TimeoutSpec),
            find_spec(node.func, IsolatedSpec) is not None,
            any(isinstance(s, EnvironmentSpec | SecretsSpec) for s in step_specs(node.func)),
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
    #: When the current attempt started (the first starts with the task).
    attempt_started: float = 0.0

    def __post_init__(self) -> None:
        self.attempt_started = self.attempt_started or self.started

    @classmethod
    def create(cls, run: RunContext, inp: TaskInput, task_id: int | None = None) -> _Task:
        node = run.graph[inp.step]
        task_id = task_id or (inp.task_id if inp.task_id is not None else run.next_task_id())
        pathspec = run.task_pathspec(node.name, task_id)
        return cls(node, inp, task_id, pathspec, _Policy.of(run, node), time.time())

    def begin(self, attempt: int) -> None:
        """Note when ``attempt`` starts (attempt 0 starts with the task)."""
        self.attempt_started = time.time() if attempt else self.started

    def record(self, run: RunContext, attempt: int, status: str) -> TaskRecord:
        return TaskRecord(
            run.flow_name, run.record.run_id, self.node.name, self.task_id, status, attempt,
            self.started, time.time(), [f.to_record() for f in self.inp.frames],
            parent_ids(self.inp), attempt_started_at=self.attempt_started,
        )  # fmt: skip


class AttemptFailed(Exception):
    """One attempt failed; carries the user's exception, its traceback and the output."""

    def __init__(self, exception: Exception, formatted: str, logs: dict[str, str]) -> None:
        super().__init__(formatted)
        self.exception, self.formatted, self.logs = exception, formatted, logs


class _Attempt:
    """The flow object, capture and ``current`` of one attempt, entered as a context."""

    def __init__(self, run: RunContext, task: _Task, attempt: int) -> None:
        node, inp = task.node, task.inp
        self.artifacts = TaskArtifacts(
            run.datastore, node.name, task.pathspec, inherited_refs(run, node, inp),
            stored_event(run, task.pathspec),
        )  # fmt: skip
        is_join = node.type == "join"
        self.flow = run.flow_cls._for_task(
            self.artifacts, inp.frames, is_join=is_join,
            input_reads=input_reads(node, inp) if is_join else None,
        )  # fmt: skip
        self.capture = TaskCapture(
            lambda stream, line: run.emit(TaskOutput(task.pathspec, stream, line))
        )
        running = task.record(run, attempt, "running")
        running.finished_at = None
        self._context = task_context(run, node.name, task.task_id, attempt, inp.frames, running)
        self.cards = open_cards(run, node, running)
        #: Output of the same attempt number that came before this one (a gang worker's).
        self.before: dict[str, str] = {}

    def __enter__(self) -> _Attempt:
        self._tokens = (enter_task(self._context), start_capture(self.capture))
        if self.cards is not None:
            self.cards.enter(self.flow)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.cards is not None:
            self.cards.leave()
        stop_capture(self._tokens[1])
        leave_task(self._tokens[0])
        self.capture.flush()

    def stop_at_deadline(self) -> None:
        """The body ran past its ``@timeout``: the attempt goes on with what the body had
        set at the deadline, as Metaflow's does; the abandoned body (a thread cannot be
        stopped) keeps changing the old flow object, which nothing reads any more.

        The values are the ones bound at the deadline, not copies: a later
        ``self.x = ...`` cannot reach them, only an in-place change to an object (a list
        appended to) in the moment before it is stored, and if that breaks its encoding,
        ``@catch``'s fallback attempt records the exception alone. Copying every value
        here would cost as much as storing it, on the event loop, and race the same way.
        """
        self.flow = self.flow._snapshot()
        if self.cards is not None:
            self.cards.flow = self.flow

    def logs(self, traceback_text: str = "") -> dict[str, str]:
        before = self.before
        return {
            "stdout": before.get("stdout", "") + self.capture.text("stdout"),
            "stderr": before.get("stderr", "") + self.capture.text("stderr") + traceback_text,
        }


async def one_attempt(
    run: RunContext, inp: TaskInput, task_id: int, attempt: int, started: float
) -> TaskResult:
    """Run and commit one attempt of a task here (what a worker does with a task spec);
    raise :class:`AttemptFailed` if it fails."""
    node = run.graph[inp.step]
    pathspec = run.task_pathspec(node.name, task_id)
    task = _Task(node, inp, task_id, pathspec, _Policy.of(run, node), started)
    return await _attempt(run, task, attempt)


async def _attempt(run: RunContext, task: _Task, attempt: int) -> TaskResult:
    task.begin(attempt)
    executors = run.executors
    if executors is not None and (executors.default is not None or task.policy.isolated):
        executor = await executors.for_step(task.policy.isolated)
        assert executor is not None
        return await _remote_attempt(run, task, attempt, executor)
    with _Attempt(run, task, attempt) as current_attempt:
        outcome = await _guard(_in_environment(run, task, current_attempt))
        if isinstance(outcome, Exception) and _caught_here(task, attempt):
            outcome = await _catch_in_attempt(run, task, current_attempt, outcome)
    return await _settle(run, task, attempt, current_attempt, outcome)


def _caught_here(task: _Task, attempt: int) -> bool:
    """Whether ``@catch`` recovers this failed attempt itself, keeping what the step set
    before it raised or timed out (its last attempt)."""
    return task.policy.catch is not None and attempt == task.policy.retries


async def _catch_in_attempt(
    run: RunContext, task: _Task, done: _Attempt, exc: Exception
) -> Outcome | Exception:
    """Metaflow's ``@catch``: the failed attempt commits as it stands, with the exception
    in ``var``, and the flow goes on; if even that fails, the extra fallback attempt runs."""
    catch = task.policy.catch
    assert catch is not None
    formatted = run.as_launched(user_traceback(exc))
    if catch.print_exception:
        done.capture.write(
            "stderr", f"@catch caught an exception from {task.pathspec}:\n{formatted}"
        )
    failed = AttemptFailed(exc, formatted, {})
    recovered = await _guard(_recover(run, task.node, done.flow, catch, failed))
    return exc if isinstance(recovered, Exception) else recovered


async def _in_environment(run: RunContext, task: _Task, current_attempt: _Attempt) -> Outcome:
    """The body, with the step's ``@environment`` and ``@secrets`` variables set."""
    node = task.node
    if not task.policy.environment:
        return await _body(run, task, current_attempt)
    async with task_environment(run, node):
        return await _body(run, task, current_attempt)


async def _body(run: RunContext, task: _Task, current_attempt: _Attempt) -> Outcome:
    node = task.node
    try:
        return await execute(
            run, node, current_attempt.flow, join_args(run, node, task.inp), task.policy.timeout
        )
    except StepTimeoutError:  # raised at the deadline, with no await since
        current_attempt.stop_at_deadline()
        raise


async def _remote_attempt(
    run: RunContext, task: _Task, attempt: int, executor: Executor
) -> TaskResult:
    try:
        outcome = await submit_attempt(
            run, executor, task.node, task.inp, task.task_id, attempt, task.started,
            task.policy.timeout,
        )  # fmt: skip
    except BaseException as exc:
        await fence(run, task.task_id, attempt + 1)  # whatever still runs may not commit
        if not isinstance(exc, Exception):
            raise
        formatted = user_traceback(exc)  # the executor failed, or the step timed out
        raise AttemptFailed(exc, formatted, {"stdout": "", "stderr": formatted}) from exc
    if outcome.error is not None:
        raise AttemptFailed(outcome.exception(), outcome.traceback, outcome.logs)
    run.emit(TaskFinished(task.pathspec))
    return TaskResult(
        task.node.name, task.task_id, task.pathspec, outcome.artifacts, task.inp.frames,
        outcome.foreach_items, outcome.chosen, task.inp.iteration,
    )  # fmt: skip


async def _guard(body: Awaitable[Outcome]) -> Outcome | Exception:
    try:
        return await body
    except Exception as exc:
        return exc
    except SystemExit as exc:  # it would end the whole process, every other task with it
        return StepExitError(exc.code).with_traceback(exc.__traceback__)


async def _settle(
    run: RunContext, task: _Task, attempt: int, done: _Attempt, outcome: Outcome | Exception
) -> TaskResult:
    if isinstance(outcome, Exception):
        formatted = user_traceback(outcome, task.node)
        raise AttemptFailed(outcome, formatted, done.logs(formatted))
    return await _succeed(run, task, attempt, outcome, done.logs(), done.cards)


async def _succeed(
    run: RunContext,
    task: _Task,
    attempt: int,
    outcome: Outcome,
    logs: dict[str, str],
    cards: TaskCards | None = None,
) -> TaskResult:
    refs, items, chosen = outcome
    record = task.record(run, attempt, "successful")
    finished = TaskFinished(task.pathspec)
    try:  # cancelled once its commit has begun, the task still commits and is reported done
        await commit(
            run, record, list(refs.values()), logs, committed_anyway=lambda: run.emit(finished)
        )
    except Exception as exc:  # a full disk or a locked database: this attempt failed
        formatted = user_traceback(exc)
        failed_logs = {**logs, "stderr": logs.get("stderr", "") + formatted}
        raise AttemptFailed(exc, formatted, failed_logs) from exc
    if cards is not None:  # rendered from the committed task, before anyone is told of it
        await finish_cards(run, cards, record)
    run.emit(finished)
    return TaskResult(
        task.node.name, task.task_id, task.pathspec, refs, task.inp.frames, items, chosen,
        task.inp.iteration,
    )  # fmt: skip


async def _retry_later(run: RunContext, task: _Task, attempt: int, failed: AttemptFailed) -> None:
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
    """Store a failed attempt's times and output, registering the task; best effort, as
    the store may be what failed."""
    record = AttemptRecord(task.task_id, attempt, "failed", task.attempt_started, time.time())
    with contextlib.suppress(*_STORE_ERRORS):
        await anyio.to_thread.run_sync(
            run.datastore.metadata.put_attempt, run.record.run_id, record, logs,
            task.record(run, attempt, "failed"), limiter=run.thread_limiter,
        )  # fmt: skip


async def _give_up(run: RunContext, task: _Task, attempt: int, failed: AttemptFailed) -> TaskResult:
    """The last attempt failed: let ``@catch`` recover the task, or fail it for good."""
    catch = task.policy.catch
    if catch is not None:
        # A gang's control task has the fallback attempt; its workers, relaunched only
        # with it in Metaflow, are recovered in their last attempt, as it left them.
        fallback = attempt if is_gang_worker(task.node, task.inp.frames) else attempt + 1
        if fallback > attempt:
            await _keep_logs(run, task, attempt, failed.logs)
        before = failed.logs if fallback == attempt else {}
        if isinstance(failed.exception, WorkerDiedError):  # no exception of the user's
            why = FailureHandledByCatchError(attempt + 1)
            failed = AttemptFailed(why, f"{failed.formatted}{type(why).__name__}: {why}\n", {})
        try:
            return await _fallback(run, task, fallback, catch, failed, before)
        except AttemptFailed as fallback_failed:
            failed, attempt = fallback_failed, fallback
    record = task.record(run, attempt, "failed")
    record.exception = failed.formatted
    event = TaskFailed(task.pathspec, _one_line(failed.exception), failed.formatted)
    with contextlib.suppress(*_STORE_ERRORS):  # a full disk may refuse even this record
        await commit(run, record, [], failed.logs, committed_anyway=lambda: run.emit(event))
    run.emit(event)
    raise TaskError(task.pathspec, failed.exception, failed.formatted) from failed.exception


async def _fallback(
    run: RunContext,
    task: _Task,
    attempt: int,
    catch: CatchSpec,
    failed: AttemptFailed,
    before: dict[str, str],
) -> TaskResult:
    """Metaflow's ``@catch`` fallback: an extra attempt that only records the exception
    (``before``: the logs it keeps when it is no extra attempt but the failed one)."""
    task.begin(attempt)
    with _Attempt(run, task, attempt) as fallback:
        fallback.before = before
        if catch.print_exception:
            fallback.capture.write(
                "stderr", f"@catch caught an exception from {task.pathspec}:\n{failed.formatted}"
            )
        outcome = await _guard(_recover(run, task.node, fallback.flow, catch, failed))
    return await _settle(run, task, attempt, fallback, outcome)


async def _recover(
    run: RunContext, node: StepNode, flow: FlowSpec, catch: CatchSpec, failed: AttemptFailed
) -> Outcome:
    if catch.var is not None:
        setattr(flow, catch.var, ExceptionWrapper(failed.exception, failed.formatted))
    if node.type != "end":
        object.__setattr__(flow, "_transition", (tuple(node.out_funcs), None))
    return await anyio.to_thread.run_sync(finish, run, node, flow, limiter=run.thread_limiter)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
