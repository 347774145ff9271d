"""The pages: each function reads the store (blocking) and returns the page body.

The app calls them in a worker thread. Links are relative to the page's
``<base>``, so the app works wherever it is mounted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..store import AttemptRecord, Datastore, TaskRecord
from . import _queries as q
from ._graph import graph_svg
from ._html import Child, Markup, el, url
from ._live import LiveRuns, RunningTask
from ._previews import download_formats, preview
from ._timeline import Bar, Span, timeline_svg

__all__ = [
    "TASKS_PER_PAGE",
    "Page",
    "artifact_page",
    "badge",
    "flows_page",
    "live_section",
    "run_page",
    "runs_page",
    "seconds",
    "step_page",
    "task_page",
    "when",
]

TASKS_PER_PAGE = q.TASKS_PER_PAGE


@dataclass(frozen=True)
class Page:
    """A page's title, breadcrumbs (label, link) and body."""

    title: str
    crumbs: list[tuple[str, str]]
    body: Markup


def when(ts: float | None) -> str:
    """A stored time to the second, or ``-``."""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts is not None else "-"


def seconds(value: float | None) -> str:
    """A duration, or ``-``."""
    if value is None:
        return "-"
    return f"{value:.2f}s" if value < 60 else f"{int(value // 60)}m{int(value % 60):02d}s"


def badge(status: str) -> Markup:
    """A status as a coloured label."""
    return el("span", status, class_=f"badge {status}", data_status=status)


def _table(head: Sequence[str], rows: Sequence[Sequence[Child]], **attrs: object) -> Markup:
    return el(
        "table",
        el("thead", el("tr", [el("th", h) for h in head])),
        el("tbody", [el("tr", [el("td", c) for c in row]) for row in rows]),
        **attrs,
    )


def _pager(here: Sequence[object], page: int, more: bool, **query: object) -> Markup:
    links: list[Child] = []
    if page > 0:
        links.append(el("a", "← previous", href=url(*here, **query, page=page - 1), rel="prev"))
    links.append(el("span", f"page {page + 1}"))
    if more:
        links.append(el("a", "next →", href=url(*here, **query, page=page + 1), rel="next"))
    return el("nav", links, class_="pager")


def flows_page(store: Datastore | None) -> Page:
    """Every flow with its run count and its latest run."""
    summaries = q.flow_summaries(store) if store is not None else []
    if not summaries:
        body = el("p", "No flow has run in this datastore yet.", class_="empty")
        return Page("Flows", [], body)
    rows = [
        [
            el("a", s.name, href=url("flows", s.name), class_="flow"),
            s.runs,
            el("a", s.latest.record.run_id, href=url("flows", s.name, s.latest.record.run_id))
            if s.latest
            else "-",
            badge(s.latest.status) if s.latest else "-",
            when(s.latest.record.created_at) if s.latest else "-",
        ]
        for s in summaries
    ]
    head = ["Flow", "Runs", "Latest run", "Status", "Started"]
    return Page("Flows", [], _table(head, rows, class_="flows"))


def runs_page(store: Datastore, flow: str, filters: q.RunFilters, page: int) -> Page:
    """The runs of ``flow`` that match ``filters``, newest first, one page."""
    runs, more = q.runs_page(store, flow, filters, page)
    rows = [
        [
            el("a", r.record.run_id, href=url("flows", flow, r.record.run_id), class_="run"),
            badge(r.status),
            when(r.record.created_at),
            seconds(r.duration),
            r.record.user,
            el("span", ", ".join(sorted(r.record.tags)), class_="tags"),
        ]
        for r in runs
    ]
    head = ["Run", "Status", "Started", "Duration", "User", "Tags"]
    query = _filter_query(filters)
    listing = (
        _table(head, rows, class_="runs")
        if rows
        else el("p", "No run matches these filters.", class_="empty")
    )
    body = el(
        "div",
        _filter_form(flow, filters),
        listing,
        _pager(["flows", flow], page, more, **query),
    )
    return Page(f"Runs of {flow}", [(flow, url("flows", flow))], body)


def _filter_query(filters: q.RunFilters) -> dict[str, object]:
    return {
        "status": filters.status,
        "tag": filters.tag,
        "user": filters.user,
        "namespace": filters.namespace,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
    }


def _filter_form(flow: str, filters: q.RunFilters) -> Markup:
    statuses = ["", "running", "successful", "failed", "cancelled", "crashed"]
    options = [
        el("option", s or "any status", value=s, selected=s == (filters.status or ""))
        for s in statuses
    ]

    def field(label: str, name: str, value: str | None, kind: str = "text") -> Markup:
        return el("label", label, el("input", type=kind, name=name, value=value or ""))

    return el(
        "form",
        el("label", "status", el("select", options, name="status")),
        field("tag", "tag", filters.tag),
        field("user", "user", filters.user),
        field("namespace", "namespace", filters.namespace),
        field("since", "since", _local(filters.since), "datetime-local"),
        field("until", "until", _local(filters.until), "datetime-local"),
        el("button", "Filter", type="submit"),
        method="get",
        action=url("flows", flow),
        class_="filters",
    )


def _local(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M") if value else None


def run_page(
    store: Datastore, flow: str, run_id: str, live: LiveRuns | None, timeline_page: int = 0
) -> Page:
    """A run: status, parameters, tags, failure, graph, timelines."""
    detail = q.run_detail(store, flow, run_id, timeline_page)
    record = detail.run.record
    facts = [
        ("status", badge(detail.run.status)),
        ("user", record.user),
        ("started", when(record.created_at)),
        ("finished", when(record.finished_at)),
        ("duration", seconds(detail.run.duration)),
        ("tags", ", ".join(sorted(record.tags)) or "-"),
        ("system tags", ", ".join(sorted(record.system_tags))),
    ]
    if record.origin_run_id is not None:
        facts.append(
            (
                "resumed from",
                el("a", record.origin_run_id, href=url("flows", flow, record.origin_run_id)),
            )
        )
    params = [
        [name, el("code", json.dumps(value))] for name, value in sorted(record.params.items())
    ]
    following = detail.run.status == "running"
    body = el(
        "div",
        el("table", [el("tr", el("th", k), el("td", v)) for k, v in facts], class_="facts"),
        _failure(record.failed_pathspec, record.exception),
        el("h2", "Parameters"),
        _table(["Name", "Value"], params, class_="params")
        if params
        else el("p", "No parameters.", class_="empty"),
        el(
            "section",
            live_section(detail, live, timeline_page),
            id="live",
            data_events=url("flows", flow, record.run_id, "events") if following else None,
            data_fragment=url("flows", flow, record.run_id, part="live", tl=timeline_page),
        ),
    )
    return Page(
        f"{flow}/{record.run_id}",
        [(flow, url("flows", flow)), (str(record.run_id), url("flows", flow, record.run_id))],
        body,
    )


def _failure(pathspec: str | None, exception: str | None) -> Markup | None:
    if pathspec is None and exception is None:
        return None
    link: Child = "-"
    if pathspec:
        link = el("a", pathspec, href=url("flows", *pathspec.split("/")))
    return el(
        "section",
        el("h2", "Failure"),
        el("p", "Failed in ", link),
        el("pre", exception or "", class_="traceback"),
        class_="failure",
    )


def live_section(detail: q.RunDetail, live: LiveRuns | None, timeline_page: int) -> Markup:
    """The parts of a run page that change while it runs: graph, timelines, steps."""
    record = detail.run.record
    flow, run_id = record.flow, record.run_id
    running = live.running(record.pathspec) if live is not None else []
    running_steps = frozenset(t.step for t in running)
    graph = graph_svg(detail.steps, lambda s: url("flows", flow, run_id, s), running_steps)
    step_bars = _step_bars(detail, running)
    start = detail.offset
    stop = start + len(detail.tasks)
    task_bars = [_task_bar(t, detail.attempts.get(t.task_id, [])) for t in detail.tasks]
    task_bars += [_running_bar(t) for t in running]
    # Both timelines on one axis: to the run's end, or to now while it runs.
    end = record.finished_at or (time.time() if detail.run.status == "running" else None)
    more = detail.task_count > stop
    steps_rows: list[list[Child]] = [
        [
            el("a", s.name, href=url("flows", flow, run_id, s.name)),
            s.tasks,
            ", ".join(f"{n} {k}" for k, n in sorted(s.statuses.items())),
            seconds(_span(s.started, s.finished)),
        ]
        for s in detail.steps
        if s.tasks
    ]
    return el(
        "div",
        el("p", "Status: ", badge(detail.run.status), class_="live-status"),
        el("h2", "Graph"),
        el("div", graph, class_="scroll"),
        el("h2", "Timeline"),
        el("div", timeline_svg(step_bars, record.created_at, end), class_="scroll steps-tl"),
        el(
            "h3",
            f"Tasks {min(start + 1, stop)}-{stop} of {detail.task_count}"
            + (f" (+{len(running)} running)" if running else ""),
        ),
        el("div", timeline_svg(task_bars, record.created_at, end), class_="scroll tasks-tl"),
        _timeline_pager(["flows", flow, run_id], timeline_page, more),
        el("h2", "Steps"),
        _table(["Step", "Tasks", "Statuses", "Duration"], steps_rows, class_="steps"),
    )


def _step_bars(detail: q.RunDetail, running: Sequence[RunningTask]) -> list[Bar]:
    """A bar per step that has committed or running tasks (running ones from the
    engine's events: the store knows a task once it commits)."""
    record = detail.run.record
    first_running: dict[str, float] = {}
    for task in running:  # oldest first
        first_running.setdefault(task.step, task.started)
    bars = []
    for s in detail.steps:
        if not s.tasks and s.name not in first_running:
            continue
        href = url("flows", record.flow, record.run_id, s.name)
        title = f"{s.name}: {s.tasks} task(s)"
        if s.name in first_running:
            begun = min(s.started or first_running[s.name], first_running[s.name])
            count = sum(t.step == s.name for t in running)
            title += f" (+{count} running), {seconds(_span(begun, None))}"
            bars.append(Bar(s.name, "running", begun, None, href, title, kind="step"))
        else:
            status = "failed" if s.statuses["failed"] else "successful"
            title += f", {seconds(_span(s.started, s.finished))}"
            bars.append(Bar(s.name, status, s.started or 0, s.finished, href, title, kind="step"))
    return bars


def _span(start: float | None, end: float | None) -> float | None:
    """Seconds from ``start`` to ``end`` (to now while it goes on)."""
    return None if start is None else (end or time.time()) - start


def _timeline_pager(here: Sequence[object], page: int, more: bool) -> Markup | None:
    if page == 0 and not more:
        return None
    links: list[Child] = []
    if page > 0:
        links.append(el("a", "← earlier tasks", href=url(*here, tl=page - 1), rel="prev"))
    if more:
        links.append(el("a", "later tasks →", href=url(*here, tl=page + 1), rel="next"))
    return el("nav", links, class_="pager")


def _task_bar(task: TaskRecord, attempts: Sequence[AttemptRecord]) -> Bar:
    count = f", {task.attempt + 1} attempts" if task.attempt else ""
    duration = (task.finished_at or time.time()) - task.started_at
    href = url("flows", *task.pathspec.split("/"))
    spans = tuple(_attempt_span(task, a, href) for a in attempts)
    return Bar(
        f"{task.step}/{task.task_id}",
        task.status,
        task.started_at,
        task.finished_at,
        href,
        f"{task.pathspec}: {task.status}, {seconds(duration)}{count}",
        attempts=spans,
    )


def _attempt_span(task: TaskRecord, a: AttemptRecord, href: str) -> Span:
    took = seconds(_span(a.started_at, a.finished_at))
    title = f"{task.pathspec} attempt {a.attempt}: {a.status}, {took}"
    return Span(
        a.attempt, a.status, a.started_at, a.finished_at, f"{href}#attempt-{a.attempt}", title
    )


def _running_bar(task: RunningTask) -> Bar:
    step, task_id = task.pathspec.split("/")[2:]
    attempt = f", attempt {task.attempt}" if task.attempt else ""
    return Bar(
        f"{step}/{task_id}",
        "running",
        task.started,
        None,
        url("flows", *task.pathspec.split("/")),
        f"{task.pathspec}: running{attempt}",
    )


def step_page(store: Datastore, flow: str, run_id: str, step: str, page: int) -> Page:
    """One page of a step's tasks."""
    chosen, count = q.step_tasks(store, flow, run_id, step, page)
    rows: list[list[Child]] = [
        [
            el("a", t.task_id, href=url("flows", *t.pathspec.split("/")), class_="task"),
            badge(t.status),
            ", ".join(str(f.get("index")) for f in t.foreach_stack) or "-",
            when(t.started_at),
            seconds(t.finished_at - t.started_at if t.finished_at else None),
            t.attempt + 1,
        ]
        for t in chosen
    ]
    more = count > page * TASKS_PER_PAGE + len(chosen)
    run = q.get_run(store, flow, run_id).run_id
    body = el(
        "div",
        el("p", f"{count} task(s)."),
        _table(
            ["Task", "Status", "Foreach index", "Started", "Duration", "Attempts"],
            rows,
            class_="tasks",
        ),
        _pager(["flows", flow, run, step], page, more),
    )
    return Page(
        f"{flow}/{run}/{step}",
        [
            (flow, url("flows", flow)),
            (str(run), url("flows", flow, run)),
            (step, url("flows", flow, run, step)),
        ],
        body,
    )


def task_page(
    store: Datastore, flow: str, run_id: str, step: str, task_id: str, cards: Markup | None
) -> Page:
    """A task: its attempts and their output, its artifacts, its cards."""
    detail = q.task_detail(store, flow, run_id, step, task_id)
    task = detail.task
    facts: list[tuple[str, Child]] = [
        ("status", badge(task.status)),
        ("started", when(task.started_at)),
        ("finished", when(task.finished_at)),
        ("duration", seconds(task.finished_at - task.started_at if task.finished_at else None)),
        ("attempts", task.attempt + 1),
        ("foreach", json.dumps(task.foreach_stack) if task.foreach_stack else "-"),
    ]
    artifacts = [
        [
            el(
                "a", a.name, href=url("flows", *task.pathspec.split("/"), a.name), class_="artifact"
            ),
            el("code", a.type),
            a.encoding,
            f"{a.size:,}",
            el("code", json.dumps(a.metadata)[:300]),
        ]
        for a in detail.artifacts
    ]
    attempts = [
        el(
            "details",
            el("summary", f"Attempt {attempt}", _attempt_times(detail.attempts.get(attempt))),
            el("h4", "stdout"),
            el("pre", out or "(empty)", class_="log stdout"),
            el("h4", "stderr"),
            el("pre", err or "(empty)", class_="log stderr"),
            class_="attempt",
            open=attempt == task.attempt,
            id=f"attempt-{attempt}",
            data_attempt=attempt,
        )
        for attempt, out, err in detail.logs
    ]
    body = el(
        "div",
        el("table", [el("tr", el("th", k), el("td", v)) for k, v in facts], class_="facts"),
        _failure(None, task.exception) if task.exception else None,
        el("h2", "Artifacts"),
        _table(
            ["Name", "Type", "Encoding", "Size (bytes)", "Metadata"], artifacts, class_="artifacts"
        )
        if artifacts
        else el("p", "No artifacts.", class_="empty"),
        el("h2", "Attempts"),
        attempts,
        cards,
    )
    return Page(task.pathspec, _task_crumbs(task), body)


def _attempt_times(attempt: AttemptRecord | None) -> Markup | None:
    if attempt is None:
        return None
    return el(
        "span",
        f" — {attempt.status}, started {when(attempt.started_at)}, "
        f"{seconds(_span(attempt.started_at, attempt.finished_at))}",
        class_="attempt-times",
    )


def _task_crumbs(task: TaskRecord) -> list[tuple[str, str]]:
    parts = [task.flow, task.run_id, task.step, task.task_id]
    return [(str(p), url("flows", *parts[: i + 1])) for i, p in enumerate(parts)]


def artifact_page(
    store: Datastore,
    flow: str,
    run_id: str,
    step: str,
    task_id: str,
    name: str,
    allow_pickle: bool,
) -> Page:
    """An artifact: how it is stored, a preview, downloads."""
    task, ref = q.find_artifact(store, flow, run_id, step, task_id, name)
    pathspec = f"{task.pathspec}/{ref.name}"
    here = ["flows", *task.pathspec.split("/"), ref.name]
    facts = [
        ("type", el("code", ref.type)),
        ("encoding", ref.encoding),
        ("size", f"{ref.size:,} bytes"),
        ("stored", "inline (metadata database)" if ref.inline else "blob"),
        ("key", el("code", ref.key)),
    ]
    downloads = [
        el(
            "a",
            f"Download .{fmt}",
            href=url(*here, format=fmt),
            class_="download",
            download=True,
        )
        for fmt in download_formats(ref)
    ]
    body = el(
        "div",
        el("table", [el("tr", el("th", k), el("td", v)) for k, v in facts], class_="facts"),
        el("h2", "Metadata"),
        el("pre", json.dumps(ref.metadata, indent=2, default=repr), class_="metadata"),
        el("h2", "Preview"),
        preview(store, ref, pathspec, allow_pickle),
        el("p", downloads, class_="downloads") if downloads else None,
    )
    return Page(pathspec, [*_task_crumbs(task), (ref.name, url(*here))], body)
