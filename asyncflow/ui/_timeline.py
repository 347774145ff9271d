"""Timelines (Gantt charts) as SVG: one bar per step, and one bar per task.

A task's bar spans its attempts (the store keeps when the task started and when
its last attempt ended); a task with retries says how many attempts it took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._html import Markup, el

__all__ = ["Bar", "timeline_svg"]

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


def timeline_svg(bars: Sequence[Bar], origin: float, until: float | None = None) -> Markup:
    """Bars on a time axis from ``origin`` to ``until`` (default: the last end, or now)."""
    if not bars:
        return el("p", "Nothing to show yet.", class_="empty")
    now = time.time()
    last = until or max(b.end if b.end is not None else now for b in bars)
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
    x1 = scale(bar.start)
    x2 = max(scale(bar.end if bar.end is not None else now), x1 + 2)
    return el(
        "a",
        el("text", bar.label, x=_LABEL - 6, y=y + 12, class_="tl-label"),
        el(
            "rect",
            x=f"{x1:.1f}",
            y=y + 2,
            width=f"{x2 - x1:.1f}",
            height=_ROW - 4,
            class_=f"bar {bar.status}",
        ),
        el("title", bar.title),
        href=bar.href,
        class_=f"tl-{bar.kind}",
        data_status=bar.status,
        data_label=bar.label,
    )


def _axis(span: float, y: int) -> Markup:
    ticks = []
    for i in range(5):
        x = _LABEL + _PLOT * i / 4
        ticks.append(el("text", _seconds(span * i / 4), x=f"{x:.0f}", y=y, class_="tick"))
    return el("g", ticks, class_="axis")


def _seconds(value: float) -> str:
    return f"{value:.2f}s" if value < 10 else f"{value:.0f}s"
