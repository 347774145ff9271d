"""The cards of one attempt of a task, as the engine drives them: ``current.card``
during the body, then, once the task has committed, each card rendered (in a worker
thread, within its ``timeout``) and stored. Nothing here fails the task: a card that
errors or times out becomes an error card (``save_errors``) or is left out, with a
warning on stderr; a store that refuses a card loses that card only.
"""

from __future__ import annotations

import functools
import sys
import threading
import traceback
from collections.abc import Mapping
from contextvars import Token
from datetime import datetime
from typing import Any

import anyio

from ..graph import FlowGraph
from ..store import Datastore, TaskRecord
from .collector import CardCollector, PlannedCard, enter_collector, leave_collector, warn
from .decorator import CardSpec
from .default import ErrorCard
from .exceptions import CardTypeNotFoundError
from .storage import save_card
from .types import card_type, card_type_names

__all__ = ["RunningTask", "TaskCards", "graph_info", "render_card"]


def graph_info(graph: FlowGraph) -> dict[str, dict[str, Any]]:
    """The flow's steps as cards get them: name -> type, successors, docstring."""
    return {
        node.name: {
            "type": node.type,
            "next": list(node.out_funcs),
            "doc": node.doc,
            "foreach_param": node.foreach_param,
        }
        for node in graph.sorted_nodes()
    }


class RunningTask:
    """What ``render_runtime`` gets while the task runs: its pathspec and start time
    (the task is not committed yet, so it has no artifacts to read)."""

    finished = False
    finished_at = None
    successful = False

    def __init__(self, pathspec: str, started_at: float) -> None:
        self.pathspec = pathspec
        self.id = pathspec.split("/")[-1]
        self.created_at = datetime.fromtimestamp(started_at)

    def __repr__(self) -> str:
        return f"RunningTask('{self.pathspec}')"


def _data(planned: PlannedCard, final: bool) -> dict[str, Any]:
    return {"user": planned.refresh_data, "components": {}, "render_seq": "final" if final else 0,
            "component_update_ts": planned.components.changed_at}  # fmt: skip


def render_card(
    planned: PlannedCard, task: Any, flow: Any, graph: Mapping[str, Any], *, final: bool = True
) -> str | None:
    """Render one card (blocking: call it in a worker thread). None when a runtime render
    is not supported by the card type; raises whatever the card raises."""
    spec = planned.spec
    cls = card_type(spec.type)
    if cls is None:
        raise CardTypeNotFoundError(spec.type, card_type_names())
    card = cls(options=dict(spec.options), components=planned.components.rendered(),
               graph=graph, flow=flow)  # fmt: skip
    data = _data(planned, final)
    card.runtime_data = data
    if final:
        html = card.render(task)
    else:
        try:
            html = card.render_runtime(task, data)
        except NotImplementedError:
            return None
    if not isinstance(html, str):
        raise TypeError(f"card type '{spec.type}' rendered a {type(html).__name__}, not a str")
    return html.replace(cls.RELOAD_POLICY_TOKEN, "final" if final else "runtime")


_MACHINERY = ("anyio.", "asyncflow.cards.runtime", "concurrent.", "threading")


def _card_traceback(exc: BaseException) -> str:
    """The traceback from the card's code down, without the engine's frames above it."""
    if isinstance(exc, CardTypeNotFoundError):
        return "".join(traceback.format_exception_only(exc))
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith(_MACHINERY):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


class TaskCards:
    """The ``@card`` decorators of one attempt of a task."""

    def __init__(
        self, specs: list[CardSpec], datastore: Datastore, record: TaskRecord, graph: FlowGraph
    ) -> None:
        self.datastore, self.record = datastore, record
        self.graph = graph_info(graph)
        self.flow: Any = None
        self.collector = CardCollector(specs, on_refresh=self._refresh)
        self._token: Token[CardCollector | None] | None = None
        self._lock = threading.Lock()
        self._finished = False

    def enter(self, flow: Any) -> None:
        """Make ``current.card`` this attempt's (for the task's flow object ``flow``)."""
        self.flow = flow
        self._token = enter_collector(self.collector)

    def leave(self) -> None:
        """Undo :meth:`enter`."""
        if self._token is not None:
            leave_collector(self._token)
            self._token = None

    async def finish(self, task: Any) -> None:
        """Render and store every card of the committed ``task`` (a client ``Task``)."""
        with self._lock:
            self._finished = True  # a runtime render still under way must not win
        for planned in self.collector.cards:
            await self._finish_one(planned, task)

    async def _finish_one(self, planned: PlannedCard, task: Any) -> None:
        spec = planned.spec
        html: str | None = None
        problem: str | None = None
        with anyio.move_on_after(spec.timeout) as scope:
            try:
                html = await anyio.to_thread.run_sync(
                    functools.partial(render_card, planned, task, self.flow, self.graph),
                    abandon_on_cancel=True,
                )
            except Exception as exc:
                problem = _card_traceback(exc)
        if scope.cancelled_caught:
            problem = (f"card type '{spec.type}' took longer than its timeout of {spec.timeout:g} "
                       "seconds to render (@card(timeout=...))")  # fmt: skip
        if problem is not None:
            html = self._error_card(planned, task, problem)
        if html is not None:
            await anyio.to_thread.run_sync(self._store, planned, html, False)

    def _error_card(self, planned: PlannedCard, task: Any, problem: str) -> str | None:
        spec = planned.spec
        last = problem.strip().splitlines()[-1]
        warn(
            f"card '{spec.type}' of {self.record.pathspec} failed ({last})"
            + ("; an error card takes its place" if spec.save_errors else "; no card is saved")
        )
        if not spec.save_errors:
            return None
        return ErrorCard().render(task, stack_trace=problem)

    def _store(self, planned: PlannedCard, html: str, runtime: bool) -> None:
        try:
            save_card(self.datastore, self.record, planned.hash, planned.spec.type, planned.id,
                      html, runtime=runtime)  # fmt: skip
        except Exception as exc:  # the task has committed; only this card is lost
            print(f"[@card WARNING] card '{planned.spec.type}' of {self.record.pathspec} "
                  f"could not be stored: {exc}", file=sys.stderr)  # fmt: skip

    def _refresh(self, planned: PlannedCard, force: bool) -> None:
        """``current.card.refresh()``: render an interim card in a background thread (the
        step may be a coroutine on the event loop), unless the final one exists."""
        cls = card_type(planned.spec.type)
        if cls is None or not cls.RUNTIME_UPDATABLE:
            return
        running = RunningTask(self.record.pathspec, self.record.started_at)
        thread = threading.Thread(
            target=self._render_runtime, args=(planned, running), daemon=True,
            name=f"card refresh {self.record.pathspec}",
        )  # fmt: skip
        thread.start()

    def _render_runtime(self, planned: PlannedCard, running: RunningTask) -> None:
        try:
            html = render_card(planned, running, self.flow, self.graph, final=False)
        except Exception as exc:
            warn(f"card '{planned.spec.type}' could not refresh: {exc}")
            return
        with self._lock:  # the final render replaces an interim one, never the reverse
            if html is not None and not self._finished:
                self._store(planned, html, True)
