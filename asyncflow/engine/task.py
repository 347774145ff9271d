"""Running one task: its body (awaited, or in a worker thread), then its commit."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import anyio

from ..artifacts import TaskArtifacts
from ..current import TaskContext, enter_task, leave_task
from ..events import ArtifactStored, TaskFailed, TaskFinished, TaskOutput, TaskStarted
from ..exceptions import AsyncflowException, InvalidTransitionError
from ..flowspec import FlowSpec
from ..graph import StepNode
from ..logs import TaskCapture, start_capture, stop_capture
from ..store import ArtifactRef, TaskRecord
from .context import RunContext
from .records import TaskInput, TaskResult


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
    """Run one task to its commit; raise :class:`TaskError` if it fails."""
    node = run.graph[inp.step]
    task_id = run.next_task_id()
    pathspec = f"{run.flow_name}/{run.run_id}/{node.name}/{task_id}"
    artifacts = TaskArtifacts(
        run.datastore, node.name, pathspec, _inherited(run, node, inp), _stored_event(run, pathspec)
    )
    flow = run.flow_cls._for_task(artifacts, inp.frames)
    capture = TaskCapture(lambda stream, line: run.emit(TaskOutput(pathspec, stream, line)))
    started = time.time()
    record = TaskRecord(
        run.flow_name, run.record.run_id, node.name, task_id, "running", 0, started, None,
        [f.to_record() for f in inp.frames], [p.task_id for p in inp.parents],
    )  # fmt: skip
    run.emit(TaskStarted(pathspec))
    token, capture_token = (
        enter_task(_task_context(run, node.name, task_id)),
        start_capture(capture),
    )
    try:
        refs, items = await _execute(run, node, flow, _join_args(run, node, inp))
    except Exception as exc:
        capture.flush()
        formatted = _user_traceback(exc)
        record.status, record.exception, record.finished_at = "failed", formatted, time.time()
        await _commit(run, record, [], capture)
        run.emit(TaskFailed(pathspec, f"{type(exc).__name__}: {exc}", formatted))
        raise TaskError(pathspec, exc, formatted) from exc
    finally:
        stop_capture(capture_token)
        leave_task(token)
    capture.flush()
    record.status, record.finished_at = "successful", time.time()
    await _commit(run, record, list(refs.values()), capture)
    run.emit(TaskFinished(pathspec))
    return TaskResult(node.name, task_id, pathspec, refs, inp.frames, items)


def _inherited(run: RunContext, node: StepNode, inp: TaskInput) -> dict[str, ArtifactRef]:
    # Joins inherit nothing implicitly (merge_artifacts does that); parameters reach every step.
    refs = {} if node.type == "join" or not inp.parents else dict(inp.parents[0].artifacts)
    refs.update(run.param_refs)
    return refs


def _stored_event(run: RunContext, pathspec: str) -> Callable[[ArtifactRef], None]:
    return lambda ref: run.emit(ArtifactStored(pathspec, ref.name, ref.size, ref.encoding))


def _task_context(run: RunContext, step: str, task_id: int) -> TaskContext:
    return TaskContext(
        flow_name=run.flow_name,
        run_id=run.run_id,
        step_name=step,
        task_id=str(task_id),
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
    run: RunContext, node: StepNode, flow: FlowSpec, args: tuple[Any, ...]
) -> tuple[dict[str, ArtifactRef], list[Any] | None]:
    if node.is_async:
        await node.func(flow, *args)
        return await anyio.to_thread.run_sync(_finish, run, node, flow, limiter=run.thread_limiter)

    def body_then_finish() -> tuple[dict[str, ArtifactRef], list[Any] | None]:
        node.func(flow, *args)
        return _finish(run, node, flow)

    return await anyio.to_thread.run_sync(body_then_finish, limiter=run.thread_limiter)


def _finish(
    run: RunContext, node: StepNode, flow: FlowSpec
) -> tuple[dict[str, ArtifactRef], list[Any] | None]:
    """Check the transition, then persist (runs in a worker thread)."""
    _check_transition(node, flow)
    items = _foreach_items(run, node, flow) if node.type == "foreach" else None
    assert flow._artifacts is not None
    return flow._artifacts.persist(flow._artifact_values()), items


def _check_transition(node: StepNode, flow: FlowSpec) -> None:
    steps, foreach = flow._transition or ((), None)
    if node.type == "end":
        if flow._transition is not None:
            raise AsyncflowException("the end step must not call self.next()")
        return
    expected = [
        *node.out_funcs,
        *([f"foreach={node.foreach_param!r}"] if node.foreach_param else []),
    ]
    actual = [*steps, *([f"foreach={foreach!r}"] if foreach else [])]
    if expected != actual:
        raise InvalidTransitionError(node.name, expected, actual)


def _foreach_items(run: RunContext, node: StepNode, flow: FlowSpec) -> list[Any]:
    var = node.foreach_param
    assert var is not None
    try:
        value = getattr(flow, var)
    except AttributeError:
        raise AsyncflowException(
            f"step '{node.name}' fans out over self.{var}, which it never set"
        ) from None
    try:
        items = list(value)
    except TypeError:
        raise AsyncflowException(
            f"foreach artifact '{var}' of step '{node.name}' is a {type(value).__name__}, "
            "which is not iterable"
        ) from None
    if not items:
        raise AsyncflowException(f"foreach artifact '{var}' of step '{node.name}' is empty")
    if len(items) > run.max_num_splits:
        raise AsyncflowException(
            f"foreach artifact '{var}' of step '{node.name}' has {len(items)} items, more than "
            f"--max-num-splits {run.max_num_splits}; raise the limit to run it"
        )
    return items


async def _commit(
    run: RunContext, record: TaskRecord, refs: list[ArtifactRef], capture: TaskCapture
) -> None:
    logs = {"stdout": capture.text("stdout"), "stderr": capture.text("stderr")}
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            run.datastore.metadata.commit_task, record, refs, logs, limiter=run.thread_limiter
        )


_ENGINE_MODULES = ("asyncflow.", "anyio.", "asyncio.", "trio.", "concurrent.", "threading")


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code down, without the engine's frames above it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith(_ENGINE_MODULES):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
