"""The Starlette app: routes, the page layout, errors, downloads and live updates."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..client import get_datastore, in_thread
from ..exceptions import AsyncflowException, NotFoundError
from ..store import Datastore
from . import _pages as pages
from . import _queries as q
from ._cards import cards_section, load_card
from ._html import Markup, el, esc, join
from ._live import LiveRuns
from ._previews import download

__all__ = ["create_app"]

T = TypeVar("T")

_STATIC = Path(__file__).parent / "static"
#: How often a run of another process is polled in the metadata store (seconds).
POLL_INTERVAL = 1.0
#: How often a run this process follows through its events is checked (seconds).
LIVE_INTERVAL = 0.2
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-src 'self'; object-src 'none'; base-uri 'self'"
    ),
}


class _UI:
    """What the routes share: where the store is, the live listener, the pickle choice."""

    def __init__(
        self, root: str | os.PathLike[str] | None, live: LiveRuns | None, allow_pickle: bool
    ) -> None:
        self.root, self.live, self.allow_pickle = root, live, allow_pickle

    def store(self) -> Datastore:
        """The datastore (opened once per process by the client)."""
        return get_datastore(self.root)

    async def render(self, request: Request, build: Callable[[Datastore], pages.Page]) -> Response:
        """Build a page in a worker thread and lay it out; errors become error pages."""
        try:
            page = await in_thread(lambda: build(self.store()))
        except NotFoundError as exc:
            return _error(request, 404, "Not found", exc.message)
        except ValueError as exc:
            return _error(request, 400, "Bad request", str(exc))
        except AsyncflowException as exc:
            return _error(request, 500, "The datastore cannot be read", exc.message)
        return _html(request, page.title, page.crumbs, page.body)


def create_app(
    root: str | os.PathLike[str] | None = None,
    *,
    live: LiveRuns | None = None,
    allow_pickle: bool = False,
) -> Starlette:
    """The read-only run browser as an ASGI app, over the datastore at ``root``
    (default: found as the client finds it).

    ``live`` makes run pages follow this process's runs through the engine's
    events (see :class:`LiveRuns`); other runs are polled in the store.
    ``allow_pickle`` lets artifact pages decode pickled values (only if the
    process allows pickle too): off by default, as a value in a shared store can
    run code when unpickled.
    """
    ui = _UI(root, live, allow_pickle)
    routes = [
        Route("/", _handler(ui, _flows)),
        Route("/flows/{flow}", _handler(ui, _runs)),
        Route("/flows/{flow}/{run}", _handler(ui, _run)),
        Route("/flows/{flow}/{run}/events", _handler(ui, _events)),
        Route("/flows/{flow}/{run}/{step}", _handler(ui, _step)),
        Route("/flows/{flow}/{run}/{step}/{task}", _handler(ui, _task)),
        Route("/flows/{flow}/{run}/{step}/{task}/cards/{index:int}", _handler(ui, _card)),
        # A hostile store may name an artifact with a '/': the name is the rest of the path.
        Route("/flows/{flow}/{run}/{step}/{task}/{name:path}", _handler(ui, _artifact)),
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(_SecurityHeaders)
    return app


class _SecurityHeaders:
    """Headers that keep a hostile store's content inert (and the UI out of frames)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in _SECURITY_HEADERS.items():
                    if key.lower().encode() not in present:
                        headers.append((key.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_Handler = Callable[[_UI, Request], Any]


def _handler(ui: _UI, fn: _Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        response: Response = await fn(ui, request)
        return response

    return endpoint


def _page_number(request: Request, name: str = "page") -> int:
    text = request.query_params.get(name, "0")
    if not text.isdigit():
        raise ValueError(f"{name} must be a page number, not {text!r}")
    return int(text)


async def _flows(ui: _UI, request: Request) -> Response:
    page = await in_thread(lambda: pages.flows_page(_optional_store(ui)))
    return _html(request, page.title, page.crumbs, page.body)


def _optional_store(ui: _UI) -> Datastore | None:
    try:
        return ui.store()
    except NotFoundError:  # no flow has run here: an empty flows page, not an error
        return None


async def _runs(ui: _UI, request: Request) -> Response:
    flow = request.path_params["flow"]
    try:
        filters, page = _filters(request), _page_number(request)
    except ValueError as exc:
        return _error(request, 400, "Bad request", str(exc))
    return await ui.render(request, lambda s: pages.runs_page(s, flow, filters, page))


def _filters(request: Request) -> q.RunFilters:
    args = request.query_params
    return q.RunFilters(
        status=args.get("status") or None,
        tag=args.get("tag") or None,
        user=args.get("user") or None,
        namespace=args.get("namespace") or None,
        since=_time(args.get("since")),
        until=_time(args.get("until")),
    )


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use YYYY-MM-DDTHH:MM)") from None


async def _run(ui: _UI, request: Request) -> Response:
    flow, run = request.path_params["flow"], request.path_params["run"]
    try:
        timeline_page = _page_number(request, "tl")
    except ValueError as exc:
        return _error(request, 400, "Bad request", str(exc))
    if request.query_params.get("part") == "live":
        return await _live_fragment(ui, flow, run, timeline_page)
    return await ui.render(request, lambda s: pages.run_page(s, flow, run, ui.live, timeline_page))


async def _live_fragment(ui: _UI, flow: str, run: str, timeline_page: int) -> Response:
    def build() -> Markup:
        detail = q.run_detail(ui.store(), flow, run, timeline_page)
        return pages.live_section(detail, ui.live, timeline_page)

    try:
        return HTMLResponse(await in_thread(build))
    except NotFoundError as exc:
        return HTMLResponse(el("p", exc.message, class_="error"), status_code=404)


async def _step(ui: _UI, request: Request) -> Response:
    p = request.path_params
    try:
        page = _page_number(request)
    except ValueError as exc:
        return _error(request, 400, "Bad request", str(exc))
    return await ui.render(
        request, lambda s: pages.step_page(s, p["flow"], p["run"], p["step"], page)
    )


async def _task(ui: _UI, request: Request) -> Response:
    p = request.path_params

    def build(store: Datastore) -> pages.Page:
        task = q.get_task(store, p["flow"], p["run"], p["step"], p["task"])
        cards = cards_section(ui.root, task)
        return pages.task_page(store, p["flow"], p["run"], p["step"], p["task"], cards)

    return await ui.render(request, build)


async def _card(ui: _UI, request: Request) -> Response:
    p = request.path_params

    def build() -> str:
        task = q.get_task(ui.store(), p["flow"], p["run"], p["step"], p["task"])
        return load_card(ui.root, task, p["index"])

    try:
        body = await in_thread(build)
    except NotFoundError as exc:
        return _error(request, 404, "Not found", exc.message)
    # The card is the task's own HTML: it runs in an opaque origin, never the UI's.
    headers = {
        "Content-Security-Policy": "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:"
    }
    return HTMLResponse(body, headers=headers)


async def _artifact(ui: _UI, request: Request) -> Response:
    p = request.path_params
    if "format" in request.query_params:
        return await _download(ui, request)
    return await ui.render(
        request,
        lambda s: pages.artifact_page(
            s, p["flow"], p["run"], p["step"], p["task"], p["name"], ui.allow_pickle
        ),
    )


async def _download(ui: _UI, request: Request) -> Response:
    p = request.path_params
    fmt = request.query_params.get("format", "")

    def build() -> Any:
        store = ui.store()
        task, ref = q.find_artifact(store, p["flow"], p["run"], p["step"], p["task"], p["name"])
        return download(store, ref, f"{task.pathspec}/{ref.name}", fmt)

    try:
        result = await in_thread(build)
    except NotFoundError as exc:
        return _error(request, 404, "Not found", exc.message)
    except (ValueError, AsyncflowException) as exc:
        return _error(request, 400, "Cannot download", str(exc))
    disposition = f"attachment; filename*=UTF-8''{_quote(result.filename)}"
    return StreamingResponse(
        _in_threads(result.chunks),
        media_type=result.media_type,
        headers={"Content-Disposition": disposition},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


async def _in_threads(chunks: Any) -> AsyncIterator[bytes]:
    """Each chunk read in a worker thread (a memory map may touch the disk)."""
    while True:
        chunk = await anyio.to_thread.run_sync(next, chunks, None)
        if chunk is None:
            return
        yield chunk


async def _events(ui: _UI, request: Request) -> Response:
    flow, run = request.path_params["flow"], request.path_params["run"]
    try:
        await in_thread(lambda: q.get_run(ui.store(), flow, run))
    except NotFoundError as exc:
        return _error(request, 404, "Not found", exc.message)
    return StreamingResponse(
        _run_changes(ui, flow, run),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _run_changes(ui: _UI, flow: str, run: str) -> AsyncIterator[str]:
    """Server-sent events: ``change`` whenever the run changes, ``done`` when it ends."""
    pathspec, last = f"{flow}/{run}", None
    while True:
        if ui.live is not None and ui.live.follows(pathspec):
            version, finished = ui.live.version(pathspec)
            state: tuple[Any, ...] = ("events", version)
            interval = LIVE_INTERVAL
        else:
            status, tasks = await in_thread(lambda: _poll(ui.store(), flow, run))
            state, finished, interval = ("store", status, tasks), status != "running", POLL_INTERVAL
        if state != last:
            last = state
            yield f"event: change\ndata: {json.dumps(list(state))}\n\n"
        if finished:
            yield "event: done\ndata: {}\n\n"
            return
        await anyio.sleep(interval)


def _poll(store: Datastore, flow: str, run: str) -> tuple[str, int]:
    view = q.view(store, q.get_run(store, flow, run))
    status = "failed" if view.status == "crashed" else view.status
    return status, store.metadata.count_tasks(flow, view.record.run_id)


def _html(
    request: Request, title: str, crumbs: list[tuple[str, str]], body: Markup, status: int = 200
) -> HTMLResponse:
    base = request.scope.get("root_path", "").rstrip("/") + "/"
    trail = [el("a", "asyncflow", href="./", class_="home")]
    for label, href in crumbs:
        trail += [esc(" / "), el("a", label, href=href)]
    document = join(
        [
            Markup("<!doctype html>"),
            el(
                "html",
                el(
                    "head",
                    el("meta", charset="utf-8"),
                    el("base", href=base),
                    el("title", f"{title} · asyncflow"),
                    el("link", rel="stylesheet", href="static/ui.css"),
                    el("script", src="static/ui.js", defer=True),
                ),
                el("body", el("nav", trail, class_="crumbs"), el("h1", title), el("main", body)),
                lang="en",
            ),
        ]
    )
    return HTMLResponse(document, status_code=status)


def _error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return _html(request, title, [], el("p", message, class_="error"), status)
