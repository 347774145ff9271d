"""A small web service that runs a flow per request.

    uvicorn --factory app:create_app --app-dir examples/service

    POST   /runs?days=3            start a run; 202 with its id once it has started
    GET    /runs/{id}[?wait=true]  its status and how many tasks are done
    GET    /runs/{id}/events       its events so far and as they happen (server-sent events)
    DELETE /runs/{id}              cancel it (recorded as cancelled; resumable)
    GET    /runs/{id}/artifacts/{name}
                                   an artifact of its end step: a table as an Arrow
                                   IPC stream, anything else as JSON

Every run shares the server's event loop; the engine keeps that loop free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pyarrow as pa
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream
from report_flow import ReportFlow
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from asyncflow import AsyncflowException, NotFoundError, Run, Runner, RunStream
from asyncflow.client import in_thread
from asyncflow.events import Event, RunFinished, RunStarted, TaskFailed, TaskFinished

ARROW_STREAM = "application/vnd.apache.arrow.stream"


@dataclass
class LiveRun:
    """What the service knows of a run in progress, from its events."""

    events: RunStream
    status: str = "running"
    tasks_done: int = 0
    failed_task: str | None = None
    history: list[Event] = field(default_factory=list)
    followers: set[MemoryObjectSendStream[Event]] = field(default_factory=set)

    def apply(self, event: Event) -> None:
        self.history.append(event)
        for follower in self.followers:
            follower.send_nowait(event)
        match event:
            case TaskFinished():
                self.tasks_done += 1
            case TaskFailed(pathspec=p):
                self.failed_task = p
            case RunFinished(status=status):
                self.status = status
                for follower in self.followers:
                    follower.close()
                self.followers.clear()

    async def follow(self) -> AsyncIterator[Event]:
        """Every event of the run so far, then the new ones until it ends."""
        send, receive = anyio.create_memory_object_stream[Event](math.inf)
        for event in self.history:
            send.send_nowait(event)
        if self.status == "running":
            self.followers.add(send)
        else:
            send.close()
        try:
            async with receive:
                async for event in receive:
                    yield event
        finally:
            self.followers.discard(send)


@dataclass
class Service:
    """Runs flows on the server's task group and keeps what it saw of each.

    (It keeps every run it started, events included; a real service would let
    finished ones go after a while and answer from the store.)
    """

    runner: Runner
    group: TaskGroup
    live: dict[int, LiveRun] = field(default_factory=dict)

    async def start(self, params: dict[str, Any]) -> int:
        """Start a run; return its id once it exists (a bad parameter raises here)."""
        run_id: int = await self.group.start(self._run, params)
        return run_id

    async def _run(self, params: dict[str, Any], *, task_status: TaskStatus[int]) -> None:
        async with self.runner.stream(**params) as events:
            async for event in events:
                if isinstance(event, RunStarted):
                    run_id = int(event.pathspec.split("/")[1])
                    self.live[run_id] = LiveRun(events)
                    task_status.started(run_id)
                self.live[run_id].apply(event)

    async def status(self, run_id: int) -> dict[str, Any]:
        if run_id in self.live:
            live = self.live[run_id]
            return {
                "id": run_id, "status": live.status, "tasks_done": live.tasks_done,
                "failed_task": live.failed_task,
            }  # fmt: skip
        run = await self._stored(run_id)
        tasks = await in_thread(lambda: sum(1 for s in run for t in s if t.successful))
        return {"id": run_id, "status": run.status, "tasks_done": tasks, "failed_task": None}

    async def _stored(self, run_id: int) -> Run:
        root = self.runner.datastore_root
        return await in_thread(lambda: Run(f"ReportFlow/{run_id}", root=root))


def create_app(datastore_root: str | None = None) -> Starlette:
    """The service; runs are stored under ``datastore_root`` (default: as the CLI finds it)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            app.state.service = Service(Runner(ReportFlow, datastore_root=datastore_root), group)
            yield
            group.cancel_scope.cancel()  # runs still going at shutdown end cancelled

    return Starlette(
        routes=[
            Route("/runs", start_run, methods=["POST"]),
            Route("/runs/{run_id:int}", run_status, methods=["GET"]),
            Route("/runs/{run_id:int}", cancel_run, methods=["DELETE"]),
            Route("/runs/{run_id:int}/events", run_events, methods=["GET"]),
            Route("/runs/{run_id:int}/artifacts/{name}", artifact, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers={NotFoundError: not_found, AsyncflowException: bad_request},
    )


async def start_run(request: Request) -> Response:
    service: Service = request.app.state.service
    params = {k: _number(v) for k, v in request.query_params.items()}
    run_id = await service.start(params)
    return JSONResponse({"id": run_id, "status": "running"}, status_code=202)


async def run_status(request: Request) -> Response:
    """``?wait=true`` answers once the run has ended (a long poll)."""
    service: Service = request.app.state.service
    run_id = request.path_params["run_id"]
    live = service.live.get(run_id)
    if live is not None and request.query_params.get("wait") == "true":
        await live.events.wait()
    return JSONResponse(await service.status(run_id))


async def cancel_run(request: Request) -> Response:
    service: Service = request.app.state.service
    live = service.live.get(request.path_params["run_id"])
    if live is None or live.status != "running":
        return JSONResponse({"error": "the run is not in progress"}, status_code=409)
    live.events.cancel()
    result = await live.events.wait()
    return JSONResponse({"id": request.path_params["run_id"], "status": result and result.status})


async def run_events(request: Request) -> Response:
    """The run's events as server-sent events: ``event: TaskStarted``, ``data: {...}``."""
    service: Service = request.app.state.service
    live = service.live.get(request.path_params["run_id"])
    if live is None:
        return JSONResponse({"error": "this server did not start that run"}, status_code=404)

    async def lines() -> AsyncIterator[str]:
        async for event in live.follow():
            data = json.dumps(dataclasses.asdict(event))
            yield f"event: {type(event).__name__}\ndata: {data}\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream")


async def artifact(request: Request) -> Response:
    service: Service = request.app.state.service
    run = await service._stored(request.path_params["run_id"])
    end = await run.aend_task()
    name = request.path_params["name"]
    if end is None or name not in end:
        raise NotFoundError("artifact", f"{run.pathspec}/end/{name}")
    value = await end[name].aload()
    if isinstance(value, pa.Table):
        return Response(await in_thread(lambda: _arrow_stream(value)), media_type=ARROW_STREAM)
    return JSONResponse(value)


def _arrow_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _number(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=404)


async def bad_request(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=400)
