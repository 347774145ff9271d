"""The engine: runs a flow as an anyio task group inside the caller's event loop."""

from __future__ import annotations

import contextlib
import functools
import platform
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from ..config_values import evaluate
from ..configs import by_name, load_configs, resolve_configs
from ..current import enter_run, leave_run
from ..decorators import IsolatedSpec, find_spec
from ..events import Listener, RunContinued, RunFinished, RunStarted
from ..exceptions import LintError, ResumeError
from ..flowspec import PARALLEL_VAR, FlowSpec, ForeachFrame, class_constant_values
from ..graph import FlowGraph
from ..lint import lint
from ..parameters import resolve_parameters
from ..projects import ProjectInfo, resolve_project
from ..store import ArtifactRef, Datastore, RunRecord, StoreURLs
from ..supervisor import owner_pid
from ..tags import valid_tags
from ..users import current_user
from .attempts import run_task
from .context import RunContext
from .joins import JoinBarriers
from .records import TaskInput, TaskResult
from .remote import RunExecutors
from .resume import ResumePlan, plan_continuation, plan_resume
from .task import TaskError

if TYPE_CHECKING:
    from ..client import Run
    from ..executors import Executor

__all__ = ["Engine", "RunResult", "current_user"]


@dataclass
class RunResult:
    """How a run ended: status, its pathspec, and the failure if any."""

    status: str
    flow: str
    run_id: int
    root: str
    exception: BaseException | None = None
    failed_pathspec: str | None = None
    traceback: str | None = None
    urls: StoreURLs | None = None
    _run: Run | None = field(default=None, repr=False, compare=False)

    @property
    def run(self) -> Run:
        """The client ``Run`` of this run (read from the store on first use)."""
        if self._run is None:
            from ..client import Run

            root = self.urls if self.urls is not None else self.root
            self._run = Run(self.pathspec, root=root, _namespace_check=False)
        return self._run

    def __enter__(self) -> RunResult:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @property
    def pathspec(self) -> str:
        """``Flow/run_id``."""
        return f"{self.flow}/{self.run_id}"

    @property
    def successful(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "successful"


class Engine:
    """Runs flows against one datastore; many runs may share one engine and one loop.

    ``executor`` runs every task elsewhere: a name such as ``processes:2`` or
    ``dask://host:8786`` (started for each run and stopped after it), or an
    :class:`~asyncflow.executors.Executor` the caller has started. By default tasks run
    in this process, but for ``@isolated`` steps, which go to worker processes.
    """

    def __init__(
        self,
        datastore: Datastore | None = None,
        *,
        max_workers: int = 16,
        max_num_splits: int = 100,
        listeners: Sequence[Listener] = (),
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        executor: str | Executor | None = None,
    ) -> None:
        if max_workers < 1 or max_num_splits < 1:
            raise ValueError(
                f"max_workers ({max_workers}) and max_num_splits ({max_num_splits}) must be >= 1"
            )
        self.datastore = datastore or Datastore()
        self.sleep = sleep  # the wait between retries; tests pass a fake clock
        self.max_workers = max_workers
        self.max_num_splits = max_num_splits
        self.listeners = list(listeners)
        #: Where tasks run (see :func:`asyncflow.executors.open_executor`); None: here.
        self.executor = executor

    async def run(
        self,
        flow_cls: type[FlowSpec],
        params: dict[str, Any] | None = None,
        *,
        tags: Sequence[str] = (),
        user: str | None = None,
        namespace: str | None = None,
        listeners: Sequence[Listener] = (),
        branch: str | None = None,
        production: bool = False,
    ) -> RunResult:
        """Lint, then run ``flow_cls`` to the end; the result says how it ended.

        ``listeners`` get this run's events on top of the engine's own. Cancelling
        the caller's scope cancels the run: it is recorded as cancelled (what
        committed stays committed) and the cancellation propagates.

        ``params`` maps parameter names to values (text or Python values); they are
        converted to each parameter's type and defaults fill in the rest. A broken
        graph raises :class:`LintError`, a bad value :class:`ParameterError`, before
        anything is stored.

        ``branch`` and ``production`` choose the ``@project`` branch (see
        :mod:`asyncflow.project`); a flow without ``@project`` ignores them.
        """
        graph = await anyio.to_thread.run_sync(_checked_graph, flow_cls)
        user = user or current_user()
        given = params or {}
        # Resolving may read files (configs, IncludeFile): off the loop.
        configs = await anyio.to_thread.run_sync(
            functools.partial(resolve_configs, flow_cls, given, user=user)
        )
        info = resolve_project(
            flow_cls, user, branch=branch, production=production,
            evaluate=functools.partial(_with_configs, flow_cls, configs),
        )  # fmt: skip
        token = enter_run(info)  # Parameter defaults may read current.project_name
        try:
            values = await anyio.to_thread.run_sync(
                functools.partial(resolve_parameters, flow_cls, given, user=user, configs=configs)
            )
            run = await self._start(
                flow_cls, graph, values, tags, user, namespace or f"user:{user}", listeners,
                project=info,
            )  # fmt: skip
            return await self._drive(run, values)
        finally:
            leave_run(token)

    async def resume(
        self,
        flow_cls: type[FlowSpec],
        step: str | None = None,
        *,
        origin_run_id: int | str | None = None,
        tags: Sequence[str] = (),
        user: str | None = None,
        namespace: str | None = None,
        listeners: Sequence[Listener] = (),
        branch: str | None = None,
        production: bool = False,
    ) -> RunResult:
        """Run ``flow_cls`` again as a new run that reuses an earlier run's successful tasks.

        ``origin_run_id`` defaults to the latest run of the flow. Without ``step``
        only its failed and never-run tasks run; with ``step``, that step and
        everything downstream of it run again. Parameters come from the origin.
        """
        graph = await anyio.to_thread.run_sync(_checked_graph, flow_cls)
        origin = int(origin_run_id) if origin_run_id is not None else None
        plan = await anyio.to_thread.run_sync(plan_resume, self.datastore, graph, origin, step)
        user = user or current_user()
        configs = await anyio.to_thread.run_sync(
            load_configs, flow_cls, self.datastore, plan.param_refs
        )
        info = resolve_project(
            flow_cls, user, branch=branch, production=production,
            evaluate=functools.partial(_with_configs, flow_cls, configs),
        )  # fmt: skip
        run = await self._start(
            flow_cls, graph, plan.origin.params, tags, user, namespace or f"user:{user}",
            listeners, plan, project=info,
        )  # fmt: skip
        return await self._drive(run, {})

    async def continue_run(
        self,
        flow_cls: type[FlowSpec],
        run_id: int,
        params: dict[str, Any] | None = None,
        *,
        step: str | None = None,
        listeners: Sequence[Listener] = (),
        branch: str | None = None,
        production: bool = False,
    ) -> RunResult:
        """Finish run ``run_id`` of ``flow_cls``, still recorded as running, whose process
        died: its successful tasks are kept as they are, the others run again (in this
        engine's executor), and this process becomes the run's owner.

        ``params`` and ``step`` are what started the run (``step``: the one it resumed
        from); the parameters are those the run stored, if any task committed.
        """
        graph = await anyio.to_thread.run_sync(_checked_graph, flow_cls)
        meta = self.datastore.metadata
        record = await anyio.to_thread.run_sync(meta.get_run, graph.name, run_id)
        if record is None or record.status != "running":
            state = "no such run" if record is None else f"the run is {record.status}"
            raise ResumeError(f"cannot continue {graph.name}/{run_id}: {state}")
        plan = await anyio.to_thread.run_sync(
            plan_continuation, self.datastore, graph, record, step
        )
        if plan.param_refs:
            configs = await anyio.to_thread.run_sync(
                load_configs, flow_cls, self.datastore, plan.param_refs
            )
        else:  # nothing stored them: the run's parameters as they were first resolved
            configs = await anyio.to_thread.run_sync(
                functools.partial(resolve_configs, flow_cls, params or {}, user=record.user)
            )
        info = resolve_project(
            flow_cls, record.user, branch=branch, production=production,
            evaluate=functools.partial(_with_configs, flow_cls, configs),
        )  # fmt: skip
        token = enter_run(info)
        try:
            values = {}
            if not plan.param_refs:
                values = await anyio.to_thread.run_sync(
                    functools.partial(
                        resolve_parameters, flow_cls, params or {}, user=record.user,
                        configs=configs,
                    )
                )  # fmt: skip
            run = await self._adopt(flow_cls, graph, record, listeners, plan)
            return await self._drive(run, values, RunContinued)
        finally:
            leave_run(token)

    async def _adopt(
        self,
        flow_cls: type[FlowSpec],
        graph: FlowGraph,
        record: RunRecord,
        listeners: Sequence[Listener],
        plan: ResumePlan,
    ) -> RunContext:
        """Take over a run whose process died: this process owns it from now on."""
        meta = self.datastore.metadata
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                meta.set_run_owner, record.run_id, socket.gethostname(), owner_pid()
            )
            last = await anyio.to_thread.run_sync(meta.last_task_id, record.run_id)
        run = self._context(flow_cls, graph, record, listeners, f"user:{record.user}", plan)
        run.ids_after(last)  # never an id the dead process used
        return run

    async def _drive(
        self, run: RunContext, params: dict[str, Any], started: type[RunStarted] = RunStarted
    ) -> RunResult:
        try:
            run.emit(started(run.record.pathspec))
            run.param_refs = await anyio.to_thread.run_sync(self._persist_params, run, params)
            async with self._executors(run):
                await _Scheduler(run).run()
        except TaskError as err:
            return await self._finish(run, "failed", err)
        except BaseException as exc:
            # Once its record exists, a run always ends recorded, however it ends,
            # and a failure outside any task (a listener, the store) with its reason.
            failed = isinstance(exc, Exception)
            reason = "".join(traceback.format_exception(exc)) if failed else None
            with anyio.CancelScope(shield=True):
                await self._finish(run, "failed" if failed else "cancelled", reason=reason)
            raise
        return await self._finish(run, "successful")

    async def _start(
        self,
        flow_cls: type[FlowSpec],
        graph: FlowGraph,
        params: dict[str, Any],
        tags: Sequence[str],
        user: str,
        namespace: str,
        listeners: Sequence[Listener],
        plan: ResumePlan | None = None,
        *,
        project: ProjectInfo | None = None,
    ) -> RunContext:
        tags = valid_tags(tags)  # refused before anything is stored
        system_tags = [
            f"user:{user}",
            "runtime:asyncflow",
            f"python_version:{platform.python_version()}",
            *(project.tags if project is not None else ()),
        ]
        meta = self.datastore.metadata
        origin_run_id = plan.origin.run_id if plan is not None else None
        # Shielded: once the run's record exists, _drive must get to record how it ended;
        # a cancellation arriving in between is delivered there, at its first checkpoint.
        with anyio.CancelScope(shield=True):
            record = await anyio.to_thread.run_sync(
                meta.create_run, graph.name, user, _jsonable(params), tags, system_tags,
                origin_run_id, _graph_record(graph),
            )  # fmt: skip
            await anyio.to_thread.run_sync(
                meta.set_run_owner, record.run_id, socket.gethostname(), owner_pid()
            )
        return self._context(flow_cls, graph, record, listeners, namespace, plan)

    def _context(
        self,
        flow_cls: type[FlowSpec],
        graph: FlowGraph,
        record: RunRecord,
        listeners: Sequence[Listener],
        namespace: str,
        plan: ResumePlan | None,
    ) -> RunContext:
        return RunContext(
            flow_cls=flow_cls,
            graph=graph,
            datastore=self.datastore,
            record=record,
            listeners=[*self.listeners, *listeners],
            thread_limiter=anyio.CapacityLimiter(self.max_workers),
            task_limiter=anyio.CapacityLimiter(self.max_workers),
            max_num_splits=self.max_num_splits,
            namespace=namespace,
            sleep=self.sleep,
            resume=plan,
        )

    @contextlib.asynccontextmanager
    async def _executors(self, run: RunContext) -> AsyncIterator[None]:
        """Start the run's executors (if it needs any) and stop what was started for it."""
        chosen = self.executor
        if chosen is None and not any(find_spec(n.func, IsolatedSpec) for n in run.graph):
            yield  # every task runs here: nothing to set up, nothing on the task path
            return
        from ..executors import open_executor

        owned = open_executor(chosen) if isinstance(chosen, str) else None
        default = owned or (chosen if not isinstance(chosen, str) else None)
        run.executors = RunExecutors(default, lambda: open_executor("processes"))
        try:
            if default is not None:
                default.check_store(self.datastore.urls)
            if owned is not None:
                await owned.start()
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await run.executors.aclose()
                if owned is not None:
                    await owned.aclose()

    def _persist_params(self, run: RunContext, params: dict[str, Any]) -> dict[str, ArtifactRef]:
        """Refs of the parameters (a resumed run's origin ones) and of the class constants,
        which every task has as artifacts, as in Metaflow."""
        # Serializer plugins are found here, off the loop: tiny values persist on it later.
        self.datastore.registry.serializers  # noqa: B018
        values = {**class_constant_values(run.flow_cls), **params}
        refs = {
            name: self.datastore.persist(name, value, step="_parameters")
            for name, value in values.items()
        }
        return refs | (run.resume.param_refs if run.resume is not None else {})

    async def _finish(
        self, run: RunContext, status: str, err: TaskError | None = None, reason: str | None = None
    ) -> RunResult:
        meta = self.datastore.metadata
        await anyio.to_thread.run_sync(
            meta.finish_run, run.flow_name, run.record.run_id, status,
            err.formatted if err else reason, err.pathspec if err else None,
        )  # fmt: skip
        run.emit(RunFinished(run.record.pathspec, status))
        return RunResult(
            status, run.flow_name, run.record.run_id, self.datastore.urls.datastore,
            err.exception if err else None, err.pathspec if err else None,
            err.formatted if err else None, self.datastore.urls,
        )  # fmt: skip


def _graph_record(graph: FlowGraph) -> dict[str, Any]:
    """The flow's graph as the store records it with a run: each step's name, kind
    (``start``, ``linear``, ``split``, ``foreach``, ``join``, ``end``, ...), the steps it
    can go to and its foreach variable; steps in the order they can run."""
    return {
        "steps": [
            {
                "name": node.name,
                "kind": node.type,
                "next": [out for out in node.out_funcs if out in graph],
                "foreach": node.foreach_param,
            }
            for node in graph.sorted_nodes()
        ]
    }


def _checked_graph(flow_cls: type[FlowSpec]) -> FlowGraph:
    """The flow's graph, linted (reads and parses source: run it in a worker thread)."""
    graph = FlowGraph(flow_cls)
    findings = lint(graph)
    if findings:
        raise LintError(findings)
    return graph


def _with_configs(flow_cls: type, configs: dict[str, Any], value: Any) -> Any:
    return evaluate(value, by_name(flow_cls, configs))


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None) else repr(v)
        for k, v in params.items()
    }


class _Scheduler:
    """Launches each task once its parents are done; the first failure cancels the rest."""

    def __init__(self, run: RunContext) -> None:
        self.run_ctx = run
        self.joins = JoinBarriers(
            run.graph, run.datastore.metadata, run.flow_name, run.record.run_id
        )
        self.failure: Exception | None = None

    async def run(self) -> None:
        """Run every task; raise the first failure as it is (never in an exception group)."""
        async with anyio.create_task_group() as tg:
            self._launch(tg, TaskInput("start", ()))
        if self.failure is not None:
            raise self.failure

    def _launch(self, tg: TaskGroup, inp: TaskInput) -> None:
        tg.start_soon(self._task, tg, inp)

    async def _task(self, tg: TaskGroup, inp: TaskInput) -> None:
        limiter, slot = self.run_ctx.task_limiter, object()
        await _take_slot(limiter, slot)
        try:
            result = await run_task(self.run_ctx, inp)
        except Exception as err:  # a TaskError, or the store failing a resumed run's clone
            if self.failure is None:
                self.failure = err
            tg.cancel_scope.cancel()
            return
        finally:
            limiter.release_on_behalf_of(slot)
        self._successors(tg, result)

    def _successors(self, tg: TaskGroup, result: TaskResult) -> None:
        node = self.run_ctx.graph[result.step]
        if node.type == "foreach":
            self._fan_out(tg, result, node.out_funcs[0])
            return
        outs = [result.chosen] if node.is_switch and result.chosen else node.out_funcs
        for out in outs:
            if self.run_ctx.graph[out].type == "join":
                ready = self.joins.arrive(out, result)
                if ready is not None:
                    self._launch(tg, ready)
            else:
                again = result.iteration + 1 if out == result.step else 0
                self._launch(tg, TaskInput(out, (result,), result.frames, iteration=again))

    def _fan_out(self, tg: TaskGroup, result: TaskResult, child: str) -> None:
        """Run the foreach's tasks from a few feeders that each take the next item when
        their task is done: 100,000 items never make 100,000 coroutines at once."""
        node = self.run_ctx.graph[result.step]
        items = result.foreach_items or []
        if node.parallel_foreach:
            tg.start_soon(self._gang, tg, result, child, len(items))
            return
        frames = (
            (*result.frames, ForeachFrame(node.name, node.foreach_param or "", i, len(items), item))
            for i, item in enumerate(items)
        )
        for _ in range(min(len(items), _feeders(self.run_ctx.task_limiter.total_tokens))):
            tg.start_soon(self._feed, tg, frames, result, child)

    async def _feed(
        self,
        tg: TaskGroup,
        frames: Iterator[tuple[ForeachFrame, ...]],
        result: TaskResult,
        child: str,
    ) -> None:
        for task_frames in frames:  # shared by the feeders: each item is taken once
            if self.failure is not None:
                return
            await self._task(tg, TaskInput(child, (result,), task_frames))

    async def _gang(self, tg: TaskGroup, result: TaskResult, child: str, size: int) -> None:
        """The ``size`` tasks of a ``@parallel`` step, all at once under one slot of
        ``--max-workers`` (a gang whose nodes wait for each other must not wait for a slot),
        with consecutive task ids, the control task (node 0) first."""
        ids = [self.run_ctx.next_task_id() for _ in range(size)]
        inputs = [
            TaskInput(
                child,
                (result,),
                (*result.frames, ForeachFrame(result.step, PARALLEL_VAR, i, size, i)),
                task_id=ids[i],
            )
            for i in range(size)
        ]
        # a resumed run copies a gang only whole: its nodes may depend on each other
        plan = self.run_ctx.resume
        reuse = plan is None or all(plan.clone_of(inp) is not None for inp in inputs)
        done: list[TaskResult] = []
        async with self.run_ctx.task_limiter, anyio.create_task_group() as gang:
            for inp in inputs:
                gang.start_soon(self._member, gang, inp, done, reuse)
        if len(done) < size:  # a node failed: the run fails (the first failure is kept)
            tg.cancel_scope.cancel()
            return
        for member in sorted(done, key=lambda r: r.task_id):
            self._successors(tg, member)

    async def _member(
        self, gang: TaskGroup, inp: TaskInput, done: list[TaskResult], reuse: bool
    ) -> None:
        try:
            done.append(await run_task(self.run_ctx, inp, reuse=reuse))
        except Exception as err:
            if self.failure is None:
                self.failure = err
            gang.cancel_scope.cancel()


async def _take_slot(limiter: anyio.CapacityLimiter, slot: object) -> None:
    """Take one of ``limiter``'s tokens for ``slot``: at once when one is free (with a
    cancellation checkpoint, but no yield to the loop: the task yields at its commit),
    else waiting in line."""
    await anyio.lowlevel.checkpoint_if_cancelled()
    try:
        limiter.acquire_on_behalf_of_nowait(slot)
    except anyio.WouldBlock:
        await limiter.acquire_on_behalf_of(slot)


def _feeders(max_workers: float) -> int:
    """How many tasks of one foreach run at once: one per worker the run allows."""
    return max(int(max_workers), 1)
