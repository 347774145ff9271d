"""One attempt of a task: its body (awaited, or in a worker thread), persisting, committing.

The attempt loop around it (retries, ``@catch``, ``@timeout``) is in :mod:`.attempts`.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import traceback
import weakref
from collections.abc import Callable, Iterator, Sequence, Sized
from contextlib import contextmanager
from typing import Any, overload

import anyio

from serializers import UnserializableError

from ..artifacts import TaskArtifacts, is_immutable
from ..current import Parallel, TaskContext
from ..decorators import CatchSpec, TimeoutSpec, find_spec
from ..events import ArtifactStored
from ..exceptions import (
    AsyncflowException,
    ForeachError,
    InvalidTransitionError,
    StepTimeoutError,
)
from ..flowspec import PARALLEL_VAR, FlowSpec, ForeachFrame, describe_transition
from ..graph import StepNode
from ..parameters import is_parameter
from ..projects import from_tags
from ..store import ArtifactRef, TaskRecord
from ..wording import a_type, plural
from .context import RunContext
from .parents import JoinParents, first_from
from .prefetch import prefetch, to_prefetch
from .records import TaskInput, TaskResult

__all__ = [
    "Inputs",
    "Outcome",
    "TaskError",
    "commit",
    "execute",
    "finish",
    "inherited_refs",
    "input_reads",
    "is_gang_worker",
    "join_args",
    "parallel_info",
    "persists_cheaply",
    "run_facts",
    "stored_event",
    "task_context",
    "user_traceback",
]


class TaskError(Exception):
    """A task failed; carries its pathspec and the user's exception."""

    def __init__(self, pathspec: str, exception: BaseException, formatted: str) -> None:
        super().__init__(f"{pathspec}: {exception!r}")
        self.pathspec, self.exception, self.formatted = pathspec, exception, formatted


class Inputs(Sequence[FlowSpec]):
    """The ``inputs`` of a join step: one view per parent task, also by step name.

    Each view is built when it is read and kept only while someone holds it (a join of
    100,000 tasks would otherwise hold 100,000 views for the whole body).
    """

    def __init__(self, parents: Sequence[TaskResult], view: Callable[[TaskResult], FlowSpec]):
        self._parents, self._view = parents, view
        self._views: weakref.WeakValueDictionary[int, FlowSpec] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._parents)

    @overload
    def __getitem__(self, index: int) -> FlowSpec: ...
    @overload
    def __getitem__(self, index: slice) -> list[FlowSpec]: ...
    def __getitem__(self, index: int | slice) -> FlowSpec | list[FlowSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self._parents))[index]]
        position = range(len(self._parents))[index]  # negative indices, IndexError
        flow = self._views.get(position)
        if flow is None:
            flow = self._views[position] = self._view(self._parents[position])
        return flow

    def __iter__(self) -> Iterator[FlowSpec]:
        return (self[i] for i in range(len(self._parents)))

    def __getattr__(self, step: str) -> FlowSpec:
        if step.startswith("_"):
            raise AttributeError(step)
        position = first_from(self._parents, step)
        if position is None:
            raise AttributeError(f"no input comes from step '{step}'")
        return self[position]

    def __repr__(self) -> str:
        return f"Inputs({list(self)!r})"


#: What a successful body leaves: its artifacts, a foreach's items, a switch's chosen step.
Outcome = tuple[dict[str, ArtifactRef], list[Any] | None, str | None]


def inherited_refs(run: RunContext, node: StepNode, inp: TaskInput) -> dict[str, ArtifactRef]:
    """The artifacts a task starts with: its parent's and the parameters.

    A join inherits nothing implicitly (``merge_artifacts`` does that).
    """
    refs = {} if node.type == "join" or not inp.parents else dict(inp.parents[0].artifacts)
    refs.update(run.param_refs)
    return refs


def stored_event(run: RunContext, pathspec: str) -> Callable[[ArtifactRef], None]:
    """A callback emitting :class:`ArtifactStored` for each artifact the task persists."""
    return lambda ref: run.emit(ArtifactStored(pathspec, ref.name, ref.size, ref.encoding))


def is_gang_worker(node: StepNode, frames: tuple[ForeachFrame, ...]) -> bool:
    """Whether a task of ``node`` is a worker (not the control task) of a ``@parallel`` gang."""
    return (
        node.parallel_step
        and bool(frames)
        and frames[-1].var == PARALLEL_VAR
        and (frames[-1].index > 0)
    )


def parallel_info(
    node: StepNode, frames: tuple[ForeachFrame, ...], task_id: int
) -> Parallel | None:
    """``current.parallel`` for a task of a ``@parallel`` step (None elsewhere).

    A gang's task ids are consecutive, the control task's first (see the scheduler).
    """
    if not node.parallel_step or not frames or frames[-1].var != PARALLEL_VAR:
        return None
    index = frames[-1].index
    return Parallel("127.0.0.1", frames[-1].num_splits, index, str(task_id - index))


def task_context(
    run: RunContext,
    step: str,
    task_id: int,
    attempt: int,
    frames: tuple[ForeachFrame, ...] = (),
    record: TaskRecord | None = None,
) -> TaskContext:
    """What ``current`` reports during one attempt of a task (``record``: the task's as it
    stands while it runs)."""
    origin_run_id, namespace, username, tags, parameter_names, project = run_facts(run)
    return TaskContext(
        flow_name=run.flow_name,
        run_id=run.run_id,
        step_name=step,
        task_id=str(task_id),
        retry_count=attempt,
        origin_run_id=origin_run_id,
        namespace=namespace,
        username=username,
        tags=tags,
        parameter_names=parameter_names,
        project=project,
        parallel=parallel_info(run.graph[step], frames, task_id),
        store=run.datastore.urls,
        record=record,
    )


def run_facts(run: RunContext) -> tuple[Any, ...]:
    """What ``current`` reports alike for every task of the run, worked out once per run
    (and again if its parameters change), not once per task."""
    key = (id(run.record), len(run.param_refs))
    if run.facts is None or run.facts[0] != key:
        record = run.record
        names = sorted(n for n in run.param_refs if is_parameter(run.flow_cls, n))
        run.facts = key, (
            str(record.origin_run_id) if record.origin_run_id else None, run.namespace,
            record.user, frozenset(record.tags), tuple(names),
            from_tags(run.flow_name, record.system_tags),
        )  # fmt: skip
    return run.facts[1]


def join_args(run: RunContext, node: StepNode, inp: TaskInput) -> tuple[Any, ...]:
    """The step's extra arguments: ``(inputs,)`` for a join, nothing otherwise."""
    if node.type != "join":
        return ()

    def view(p: TaskResult) -> FlowSpec:
        return run.flow_cls._for_task(
            TaskArtifacts(run.datastore, p.step, p.pathspec, p.artifacts), p.frames
        )

    return (Inputs(inp.parents, view),)


def input_reads(node: StepNode, inp: TaskInput) -> Callable[[str], str | None]:
    """For a join's messages: how to read an artifact of its inputs, if any input has it.

    Of a join of many inputs, the first page of them is looked at, once per name: every
    ``hasattr(self, ...)`` that misses builds this message, and reading every input's
    artifacts each time would cost a read of the whole join.
    """

    @functools.cache
    def reads(name: str) -> str | None:
        parents = inp.parents
        if isinstance(parents, JoinParents):
            parents = parents[: parents.PAGE]
        steps = sorted({p.step for p in parents if name in p.artifacts})
        if not steps:
            return None
        if len(node.in_funcs) == 1:  # the join of a foreach: one input per item
            return f"[i.{name} for i in inputs]"
        return " or ".join(f"inputs.{step}.{name}" for step in steps)

    return reads


async def execute(
    run: RunContext,
    node: StepNode,
    flow: FlowSpec,
    args: tuple[Any, ...],
    limit: TimeoutSpec | None,
) -> Outcome:
    """Run the step's body (awaited, or in a worker thread) within ``limit``, then persist."""
    if limit is None and not node.is_async:

        def body_then_finish() -> Outcome:
            node.func(flow, *args)
            _clear_catch_var(node, flow)
            return finish(run, node, flow)

        # A thread cannot be killed: a cancelled task (Ctrl-C, a failed sibling, a timeout)
        # abandons its thread, and nothing reads the flow object it goes on changing.
        return await anyio.to_thread.run_sync(
            body_then_finish, limiter=run.thread_limiter, abandon_on_cancel=True
        )
    if limit is None:  # an async step (a sync one without a deadline returned above)
        await _awaited_body(run, node, flow, args)
    else:
        with _deadline(node, limit):
            if node.is_async:
                await _awaited_body(run, node, flow, args)
            else:
                await anyio.to_thread.run_sync(
                    node.func, flow, *args, limiter=run.thread_limiter, abandon_on_cancel=True
                )
    _clear_catch_var(node, flow)
    if persists_cheaply(node, flow):
        return finish(run, node, flow)
    return await anyio.to_thread.run_sync(finish, run, node, flow, limiter=run.thread_limiter)


async def _awaited_body(
    run: RunContext, node: StepNode, flow: FlowSpec, args: tuple[Any, ...]
) -> None:
    """An async step's body, on the loop, after what it reads is loaded in a thread."""
    if to_prefetch(flow, node.reads):  # a thread hop costs more than nothing to load
        await anyio.to_thread.run_sync(prefetch, flow, node.reads, limiter=run.thread_limiter)
    if args and isinstance(args[0], Inputs) and isinstance(args[0]._parents, JoinParents):
        # The first page of a join's parents, read in a thread; later pages (a join of
        # more than JoinParents.PAGE parents) are still read where the body asks for them.
        await anyio.to_thread.run_sync(args[0]._parents.preread, limiter=run.thread_limiter)
    await node.func(flow, *args)


#: Strings and bytes up to this length persist on the event loop (see persists_cheaply).
TINY_LENGTH = 512
_TINY_INTS = (-(2**63), 2**64)  # what msgpack encodes itself (larger ints go to pickle)


def persists_cheaply(node: StepNode, flow: FlowSpec) -> bool:
    """Whether the task's artifacts are all so small (None, bools, numbers, short strings)
    that encoding them on the event loop costs less than a hop to a worker thread."""
    artifacts = flow._artifacts
    if artifacts is None or node.type == "foreach":  # a foreach's items may be many
        return False
    values = flow.__dict__
    if not all(_tiny(values.get(name)) for name in artifacts.assigned):
        return False
    # a mutable value read and kept is re-encoded to see whether it changed
    kept = artifacts.loaded - artifacts.assigned
    return all(name not in values or is_immutable(values[name]) for name in kept)


def _tiny(value: Any) -> bool:
    kind = type(value)
    if value is None or kind is bool or kind is float:
        return True
    if kind is int:
        return bool(_TINY_INTS[0] <= value < _TINY_INTS[1])
    return (kind is str or kind is bytes) and len(value) <= TINY_LENGTH


def _clear_catch_var(node: StepNode, flow: FlowSpec) -> None:
    """Metaflow's ``@catch(var=...)`` sets the variable to None when the step succeeds."""
    catch: CatchSpec | None = find_spec(node.func, CatchSpec)
    if catch is not None and catch.var is not None:
        setattr(flow, catch.var, None)


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


def finish(run: RunContext, node: StepNode, flow: FlowSpec) -> Outcome:
    """Check the transition, then persist (runs in a worker thread)."""
    _check_transition(node, flow)
    assert flow._artifacts is not None
    values = flow._artifact_values()
    items = None
    if node.parallel_foreach:
        items = values[PARALLEL_VAR] = _parallel_items(node, flow)
        flow._artifacts.assigned.add(PARALLEL_VAR)  # kept, so that resume fans out again
    elif node.type == "foreach":
        items = _foreach_items(run, node, flow)
    chosen = flow._transition[0][0] if node.is_switch and flow._transition else None
    return flow._artifacts.persist(values), items, chosen


def _parallel_items(node: StepNode, flow: FlowSpec) -> list[int]:
    count = flow._num_parallel
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise AsyncflowException(
            f"step '{node.name}': self.next(..., num_parallel=N) needs a whole number "
            f"N >= 1, got {count!r}"
        )
    return list(range(count))


def _check_transition(node: StepNode, flow: FlowSpec) -> None:
    if flow._transition is None and is_gang_worker(node, flow._foreach_frames):
        return  # Metaflow lets a gang's workers end without self.next(): the control decides
    if node.type == "end":
        if flow._transition is not None:
            raise AsyncflowException("the end step must not call self.next()")
        return
    if node.is_switch:
        _check_switch(node, flow)
        return
    expected = describe_transition(tuple(node.out_funcs), node.foreach_param)
    actual = None if flow._transition is None else describe_transition(*flow._transition)
    if expected != actual:
        raise InvalidTransitionError(node.name, expected, actual)


def _check_switch(node: StepNode, flow: FlowSpec) -> None:
    expected = [f"{{{', '.join(node.switch_cases)}}}", f"condition={node.condition!r}"]
    transition = flow._transition
    if transition is None or flow._switched_on is None:
        actual = None if transition is None else describe_transition(*transition)
        raise InvalidTransitionError(node.name, expected, actual)
    if flow._switched_on != node.condition or transition[0][0] not in node.out_funcs:
        actual = [transition[0][0], f"condition={flow._switched_on!r}"]
        raise InvalidTransitionError(node.name, expected, actual)


def _foreach_items(run: RunContext, node: StepNode, flow: FlowSpec) -> list[Any]:
    var = node.foreach_param
    assert var is not None
    try:
        value = getattr(flow, var)
    except AttributeError:
        raise ForeachError(node.name, var, "was never set") from None
    try:
        iterator = iter(value)
    except TypeError:
        raise ForeachError(node.name, var, f"is not iterable (it is {a_type(value)})") from None
    limit = run.max_num_splits
    # One item past the limit is enough to refuse: an unbounded iterator is never listed.
    items = list(itertools.islice(iterator, limit + 1))
    if not items:
        raise ForeachError(node.name, var, "is empty")
    if len(items) > limit:
        raise ForeachError(
            node.name, var, f"has {_how_many(value, limit)}, more than --max-num-splits "
            f"({limit}); raise the limit to run it",
        )  # fmt: skip
    return items


def _how_many(value: object, limit: int) -> str:
    """``12 items`` when ``value`` knows its length, else ``more than 10 items``."""
    if isinstance(value, Sized):
        return plural(len(value), "item")
    return f"more than {plural(limit, 'item')}"


async def commit(
    run: RunContext,
    record: TaskRecord,
    refs: list[ArtifactRef],
    logs: dict[str, str],
    *,
    committed_anyway: Callable[[], None] | None = None,
) -> None:
    """Commit a task record in the run's commit thread: a commit begun is finished, even
    if the task is cancelled meanwhile (``committed_anyway`` is then called if it
    committed, and the cancellation goes on).

    Tasks finishing together share one transaction (see engine/commits.py).
    """
    await run.commits.commit(
        run.datastore, record, refs, logs, fenced=run.fenced, committed_anyway=committed_anyway
    )


_ENGINE_MODULES = (
    "asyncflow.",
    "anyio.",
    "asyncio.",
    "trio.",
    "outcome.",
    "concurrent.",
    "threading",
)


def user_traceback(exc: BaseException, node: StepNode | None = None) -> str:
    """The traceback from the user's code down, without the engine's frames above it.

    A value no serializer takes is shown at the lines of ``node`` that assign it.
    """
    if isinstance(exc, StepTimeoutError):
        return "".join(traceback.format_exception_only(exc))
    if isinstance(exc, UnserializableError) and node is not None:
        return _where_assigned(exc, node)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith(_ENGINE_MODULES):
        tb = tb.tb_next
    if tb is None and isinstance(exc, AsyncflowException):
        return "".join(traceback.format_exception_only(exc))  # ours, and says it all
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _where_assigned(exc: UnserializableError, node: StepNode) -> str:
    """The error, under the lines of the step that assign the artifact (no library frames)."""
    lines = node.writes.get(exc.artifact or "", ())
    where = "".join(
        f'  File "{node.file}", line {n}, in {node.name}\n'
        f"    {linecache.getline(node.file, n).strip()}\n"
        for n in lines
    )
    head = f"Artifact '{exc.artifact}' is assigned in step '{node.name}' at:\n" if where else ""
    return head + where + "".join(traceback.format_exception_only(exc))
