"""The step graph of a run as SVG: steps in columns by depth, coloured by status,
foreach steps with their task count, each step a link to its tasks; steps that have
not run (yet) greyed, when the run recorded its flow's graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._html import Markup, el
from ._queries import StepSummary

__all__ = ["graph_svg"]

_W, _H, _GAP_X, _GAP_Y, _PAD = 150, 44, 60, 18, 10


def graph_svg(
    steps: Sequence[StepSummary], link: Callable[[str], str], running: frozenset[str] = frozenset()
) -> Markup:
    """The graph of ``steps`` (parents first); ``running`` steps are drawn as running."""
    if not steps:
        return el("p", "No task has committed yet.", class_="empty")
    places = _layout(steps)
    columns = max(col for col, _ in places.values()) + 1
    rows = max(row for _, row in places.values()) + 1
    width = _PAD * 2 + columns * _W + (columns - 1) * _GAP_X
    height = _PAD * 2 + rows * _H + (rows - 1) * _GAP_Y
    edges = [
        _edge(places[p], places[s.name]) for s in steps for p in sorted(s.parents) if p in places
    ]
    nodes = [_node(s, places[s.name], link(s.name), s.name in running) for s in steps]
    return el(
        "svg",
        el("g", edges, class_="edges"),
        el("g", nodes, class_="nodes"),
        xmlns="http://www.w3.org/2000/svg",
        class_="graph",
        width=width,
        height=height,
        viewBox=f"0 0 {width} {height}",
        role="img",
        aria_label="step graph",
    )


def _layout(steps: Sequence[StepSummary]) -> dict[str, tuple[int, int]]:
    """(column, row) of each step: the column is one more than its deepest parent's."""
    depth: dict[str, int] = {}
    for s in steps:
        depth[s.name] = 1 + max((depth[p] for p in s.parents if p in depth), default=-1)
    used: dict[int, int] = {}
    places = {}
    for s in steps:
        col = depth[s.name]
        places[s.name] = (col, used.get(col, 0))
        used[col] = used.get(col, 0) + 1
    return places


def _xy(place: tuple[int, int]) -> tuple[int, int]:
    col, row = place
    return _PAD + col * (_W + _GAP_X), _PAD + row * (_H + _GAP_Y)


def _edge(parent: tuple[int, int], child: tuple[int, int]) -> Markup:
    (x1, y1), (x2, y2) = _xy(parent), _xy(child)
    x1, y1, y2 = x1 + _W, y1 + _H // 2, y2 + _H // 2
    mid = (x1 + x2) // 2
    return el("path", d=f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}", class_="edge")


def _node(step: StepSummary, place: tuple[int, int], href: str, running: bool) -> Markup:
    x, y = _xy(place)
    status = "running" if running and step.status != "failed" else step.status
    count = f"\N{MULTIPLICATION SIGN}{step.tasks}" if step.foreach or step.tasks > 1 else ""
    failed = step.statuses["failed"]
    detail = f"{count} {failed} failed".strip() if failed and count else count
    if status == "pending":
        detail = "not run"
    kind = f" ({step.kind})" if step.kind else ""
    return el(
        "a",
        el("rect", x=x, y=y, width=_W, height=_H, rx=6, class_=f"node {status}"),
        el("text", step.name, x=x + 10, y=y + 19, class_="label"),
        el("text", detail, x=x + 10, y=y + 36, class_="count") if detail else None,
        el("title", f"{step.name}{kind}: {step.tasks} task(s), {status}"),
        href=None if status == "pending" else href,
        class_="step",
        data_step=step.name,
        data_status=status,
        data_kind=step.kind or None,
        data_tasks=step.tasks,
    )
