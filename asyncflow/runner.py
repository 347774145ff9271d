"""Running flows from Python: ``Runner`` for services, notebooks and scripts.

``Runner(flow).run(**params)`` blocks on its own event loop;
``await Runner(flow).async_run(**params)`` runs on the caller's loop (asyncio or
trio), and many runs may share that loop. ``runner.stream(**params)`` yields the
run's events as they happen. Shaped after ``metaflow.Runner``: the result has
``.status`` and ``.run`` (the client ``Run``) and works as a context manager.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import inspect
import math
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from serializers import Registry

from .display import make_display
from .engine import Engine, RunResult
from .events import Event, EventCallback, Listener, RunStarted, to_loop
from .exceptions import FlowFileError
from .flowspec import FlowSpec
from .store import Datastore

if TYPE_CHECKING:
    from .executors import Executor

__all__ = ["RunStream", "Runner", "load_flow"]

_Start = Callable[[EventCallback], Awaitable[RunResult]]


class Runner:
    """Runs one flow, from a FlowSpec subclass or the path of a flow file.

    Options apply to every run: ``datastore_root`` (a directory or
    ``s3://bucket/prefix``; default: as the CLI finds it), ``metadata`` (a
    ``postgresql://`` or ``sqlite:///`` URL; default: as the CLI finds it),
    ``max_workers``, ``max_num_splits``, ``tags``, ``namespace`` (what
    ``current.namespace`` reports; also added to the run's tags), ``registry``
    (the serializers), ``show_output`` (show the run as the CLI does: a live view
    on a terminal, plain lines otherwise; off by default, unlike metaflow.Runner,
    since a service seldom wants it), ``executor`` (where tasks run: ``processes:2``,
    ``dask://host:8786``, ... or an :class:`~asyncflow.executors.Executor`; default: in
    this process). Flow parameters go to ``run(**params)``.
    """

    def __init__(
        self,
        flow: type[FlowSpec] | str | os.PathLike[str],
        *,
        datastore_root: str | os.PathLike[str] | None = None,
        metadata: str | None = None,
        max_workers: int = 16,
        max_num_splits: int = 100,
        tags: Sequence[str] = (),
        namespace: str | None = None,
        registry: Registry | None = None,
        show_output: bool = False,
        executor: str | Executor | None = None,
    ) -> None:
        self.executor = executor
        self.flow_cls = flow if isinstance(flow, type) else load_flow(flow)
        self.datastore_root = datastore_root
        self.metadata = metadata
        self.max_workers = max_workers
        self.max_num_splits = max_num_splits
        self.tags = [*tags, *([namespace] if namespace and namespace not in tags else [])]
        self.namespace = namespace
        self.registry = registry
        self.show_output = show_output
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Close the datastore this runner opened (leaving ``with Runner(...)`` calls it).

        Call it once no run of this runner is in progress; a later run opens the
        datastore again.
        """
        with self._engine_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.datastore.close()

    def run(self, **params: Any) -> RunResult:
        """Run the flow to its end on a new event loop; block until it ends.

        Called where an event loop already runs (a notebook), the new loop runs in
        a thread of its own and this call blocks the caller's loop until the end;
        prefer ``await async_run(...)`` there.
        """
        return _blocking(self._run_blocking, params)

    async def _run_blocking(self, params: dict[str, Any]) -> RunResult:
        return await self.async_run(**params)

    async def async_run(self, *, on_event: EventCallback | None = None, **params: Any) -> RunResult:
        """Run the flow on the caller's event loop and return how it ended.

        ``on_event`` is called with each event, always on the caller's loop thread.
        Cancelling the caller's scope cancels the run (recorded as cancelled; the
        cancellation propagates).
        """
        listeners = [to_loop(on_event)] if on_event else []
        engine = await self._get_engine()
        result = await engine.run(
            self.flow_cls, params, tags=self.tags, namespace=self.namespace, listeners=listeners
        )
        await anyio.to_thread.run_sync(lambda: result.run)
        return result

    def resume(
        self, step_to_rerun: str | None = None, *, origin_run_id: int | str | None = None
    ) -> RunResult:
        """Resume on a new event loop: a new run that reuses the origin's successful tasks."""
        return _blocking(self._resume_blocking, step_to_rerun, origin_run_id)

    async def _resume_blocking(
        self, step_to_rerun: str | None, origin_run_id: int | str | None
    ) -> RunResult:
        return await self.async_resume(step_to_rerun, origin_run_id=origin_run_id)

    async def async_resume(
        self,
        step_to_rerun: str | None = None,
        *,
        origin_run_id: int | str | None = None,
        on_event: EventCallback | None = None,
    ) -> RunResult:
        """Resume on the caller's loop.

        ``origin_run_id`` defaults to the flow's latest run. Without
        ``step_to_rerun`` only its failed and never-run tasks run again; with it,
        that step and everything after it. Parameters come from the origin run.
        """
        listeners = [to_loop(on_event)] if on_event else []
        engine = await self._get_engine()
        result = await engine.resume(
            self.flow_cls, step_to_rerun, origin_run_id=origin_run_id, tags=self.tags,
            namespace=self.namespace, listeners=listeners,
        )  # fmt: skip
        await anyio.to_thread.run_sync(lambda: result.run)
        return result

    def stream(self, **params: Any) -> contextlib.AbstractAsyncContextManager[RunStream]:
        """Start a run on the caller's loop and yield its events as they happen.

        ``async for event in events`` ends after ``RunFinished``; leaving the block
        waits for the run to end, unless it raised (that cancels the run). A run
        that cannot start (a bad parameter, a broken graph) ends the iteration at
        once, and its error is raised as the block is left.
        """
        return self._stream(lambda on_event: self.async_run(on_event=on_event, **params))

    def stream_resume(
        self, step_to_rerun: str | None = None, *, origin_run_id: int | str | None = None
    ) -> contextlib.AbstractAsyncContextManager[RunStream]:
        """:meth:`async_resume`, yielding its events as :meth:`stream` does."""
        return self._stream(
            lambda on_event: self.async_resume(
                step_to_rerun, origin_run_id=origin_run_id, on_event=on_event
            )
        )

    @contextlib.asynccontextmanager
    async def _stream(self, start: _Start) -> AsyncIterator[RunStream]:
        send, receive = anyio.create_memory_object_stream[Event](math.inf)
        events = RunStream(receive)
        error: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._stream_run, start, send, events)
            try:
                with receive:
                    yield events
            except Exception as exc:
                # Cancel the run, then raise the caller's error as it is, not in a group.
                error = exc
                tg.cancel_scope.cancel()
        if error is not None:
            raise error
        if events._error is not None:
            raise events._error

    async def _stream_run(
        self, start: _Start, send: MemoryObjectSendStream[Event], events: RunStream
    ) -> None:
        started: list[RunStarted] = []

        def deliver(event: Event) -> None:
            if isinstance(event, RunStarted):
                started.append(event)
            with contextlib.suppress(anyio.BrokenResourceError):  # the reader left
                send.send_nowait(event)

        with send, events._scope:
            try:
                events._finish(await start(deliver))
            except Exception as exc:  # raised by stream() itself, not as a task group's
                events._fail(exc)
            finally:
                if events.result is None and events._error is None:
                    events._finish(self._cancelled(started[0].pathspec) if started else None)

    def _cancelled(self, pathspec: str) -> RunResult:
        flow, run_id = pathspec.split("/")
        assert self._engine is not None
        urls = self._engine.datastore.urls
        return RunResult("cancelled", flow, int(run_id), urls.datastore, urls=urls)

    async def _get_engine(self) -> Engine:
        if self._engine is None:
            await anyio.to_thread.run_sync(self._make_engine)
        assert self._engine is not None
        return self._engine

    def _make_engine(self) -> None:
        with self._engine_lock:
            if self._engine is None:
                store = Datastore(
                    self.datastore_root, metadata=self.metadata, registry=self.registry
                )
                listeners: list[Listener] = [make_display()] if self.show_output else []
                self._engine = Engine(
                    store,
                    max_workers=self.max_workers,
                    max_num_splits=self.max_num_splits,
                    listeners=listeners,
                    executor=self.executor,
                )


class RunStream:
    """The events of a run in progress: ``async for`` them; ``cancel()`` stops the run."""

    def __init__(self, receive: MemoryObjectReceiveStream[Event]) -> None:
        self._receive = receive
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._error: Exception | None = None
        self.result: RunResult | None = None

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def cancel(self) -> None:
        """Cancel the run; it ends with status ``cancelled``."""
        self._scope.cancel()

    async def wait(self) -> RunResult | None:
        """Wait for the run to end and return its result (None: cancelled before it began).

        Raises the error that kept the run from starting, if one did.
        """
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self.result

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._done.set()

    def _finish(self, result: RunResult | None) -> None:
        self.result = result
        self._done.set()


def _blocking(func: Callable[..., Awaitable[RunResult]], *args: Any) -> RunResult:
    """``anyio.run(func, *args)``, in a thread of its own if this one runs a loop."""
    try:
        anyio.lowlevel.current_token()
    except RuntimeError:  # no loop runs in this thread
        return anyio.run(func, *args)
    with concurrent.futures.ThreadPoolExecutor(1, "asyncflow-runner") as pool:
        return pool.submit(anyio.run, func, *args).result()


def load_flow(path: str | os.PathLike[str]) -> type[FlowSpec]:
    """The FlowSpec subclass defined in the flow file at ``path``.

    The file is imported as a module (its ``__main__`` block does not run). When it
    defines several flows, the one no other flow in the file derives from is taken.
    """
    module = _import_file(Path(path))
    flows = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, FlowSpec) and obj.__module__ == module.__name__
    ]
    leaves = [f for f in flows if not any(o is not f and issubclass(o, f) for o in flows)]
    if len(leaves) != 1:
        names = ", ".join(sorted(f.__name__ for f in leaves)) or "none"
        raise FlowFileError(str(path), names)
    return leaves[0]


#: Flow files already imported, by path, with the modification time they had then.
_loaded: dict[Path, tuple[int, ModuleType]] = {}
_loaded_lock = threading.Lock()


def _import_file(path: Path) -> ModuleType:
    """Import a flow file once; again only when it has changed (a Runner per request
    costs a ``stat``)."""
    try:
        resolved, mtime = path.resolve(), path.stat().st_mtime_ns
    except OSError:
        raise FlowFileError(str(path), None) from None
    with _loaded_lock:
        known = _loaded.get(resolved)
        if known is not None and known[0] == mtime:
            return known[1]
        module = _exec_file(resolved)
        _loaded[resolved] = (mtime, module)
        return module


def _exec_file(path: Path) -> ModuleType:
    import cloudpickle

    if not path.is_file():
        raise FlowFileError(str(path), None)
    name = f"asyncflow_flowfile_{abs(hash(path))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect finds the step sources through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    # Classes defined in the file are pickled by value: other processes cannot import it.
    cloudpickle.register_pickle_by_value(module)
    return module
