"""Timelines (Gantt charts) as SVG: one bar per step, one bar per task, and inside
each task's bar one bar per attempt (a retried task shows its failed attempt, the
wait, then the attempt that ended it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._html import Markup, el

__all__ = ["Bar", "Span", "timeline_svg"]

_LABEL, _PLOT, _ROW, _PAD = 190, 620, 18, 4


@dataclass(frozen=True)
class Bar:
    """One row: a label, a status (the CSS class) and when it started and ended
    (``end`` None: still going)."""

    label: str
    status: str
    start: float
    end: float | None
    href: str
    title: str
    kind: str = "task"
    attempts: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Span:
    """An attempt within a task's bar: its number, status and times."""

    number: int
    status: str
    start: float
    end: float | None
    href: str
    title: str


def timeline_svg(bars: Sequence[Bar], origin: float, until: float | None = None) -> Markup:
    """Bars on a time axis from ``origin`` to ``until`` (default: the last end, or now)."""
    if not bars:
        return el("p", "Nothing to show yet.", class_="empty")
    now = time.time()
    ends = [b.end if b.end is not None else now for b in bars]
    ends += [a.end if a.end is not None else now for b in bars for a in b.attempts]
    last = until or max(ends)
    span = max(last - origin, 1e-3)
    scale: Callable[[float], float] = lambda t: _LABEL + _PLOT * (t - origin) / span  # noqa: E731
    height = _PAD * 2 + len(bars) * _ROW + 16
    rows = [_row(b, i, scale, now) for i, b in enumerate(bars)]
    axis = _axis(span, height - 4)
    width = _LABEL + _PLOT + 40
    return el(
        "svg",
        rows,
        axis,
        xmlns="http://www.w3.org/2000/svg",
        class_="timeline",
        width=width,
        height=height,
        viewBox=f"0 0 {width} {height}",
        role="img",
        aria_label="timeline",
    )


def _row(bar: Bar, index: int, scale: Callable[[float], float], now: float) -> Markup:
    y = _PAD + index * _ROW
    x1, width = _extent(bar.start, bar.end, scale, now)
    track = " track" if bar.attempts else ""
    whole = el(
        "a",
        el("text", bar.label, x=_LABEL - 6, y=y + 12, class_="tl-label"),
        el(
            "rect",
            x=f"{x1:.1f}",
            y=y + 2,
            width=f"{width:.1f}",
            height=_ROW - 4,
            class_=f"bar {bar.status}{track}",
        ),
        el("title", bar.title),
        href=bar.href,
        class_=f"tl-{bar.kind}",
        data_status=bar.status,
        data_label=bar.label,
    )
    if not bar.attempts:
        return whole
    return el("g", whole, [_attempt(a, y, scale, now) for a in bar.attempts], class_="tl-row")


def _attempt(span: Span, y: int, scale: Callable[[float], float], now: float) -> Markup:
    x1, width = _extent(span.start, span.end, scale, now)
    return el(
        "a",
        el(
            "rect",
            x=f"{x1:.1f}",
            y=y + 5,
            width=f"{width:.1f}",
            height=_ROW - 10,
            class_=f"bar attempt {span.status}",
        ),
        el("title", span.title),
        href=span.href,
        class_="tl-attempt",
        data_attempt=span.number,
        data_status=span.status,
    )


def _extent(
    start: float, end: float | None, scale: Callable[[float], float], now: float
) -> tuple[float, float]:
    """Where a bar starts and how wide it is (at least 2 pixels, to be seen)."""
    x1 = scale(start)
    return x1, max(scale(end if end is not None else now) - x1, 2)


def _axis(span: float, y: int) -> Markup:
    ticks = []
    for i in range(5):
        x = _LABEL + _PLOT * i / 4
        ticks.append(el("text", _seconds(span * i / 4), x=f"{x:.0f}", y=y, class_="tick"))
    return el("g", ticks, class_="axis")


def _seconds(value: float) -> str:
    return f"{value:.2f}s" if value < 10 else f"{value:.0f}s"
