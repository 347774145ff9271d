"""A small histogram as SVG, for array previews."""

from __future__ import annotations

from collections.abc import Sequence

from ._html import Markup, el

__all__ = ["histogram_svg"]

_W, _H, _PAD = 320, 120, 4


def histogram_svg(counts: Sequence[int], low: float, high: float) -> Markup:
    """Bars of ``counts`` for equal bins from ``low`` to ``high``."""
    top = max(counts, default=0) or 1
    width = (_W - 2 * _PAD) / max(len(counts), 1)
    bars = [
        el(
            "rect",
            x=f"{_PAD + i * width:.1f}",
            y=f"{_H - 16 - (_H - 24) * c / top:.1f}",
            width=f"{max(width - 1, 1):.1f}",
            height=f"{(_H - 24) * c / top:.1f}",
            class_="hist-bar",
        )
        for i, c in enumerate(counts)
    ]
    labels = [
        el("text", f"{low:.4g}", x=_PAD, y=_H - 2, class_="tick"),
        el("text", f"{high:.4g}", x=_W - _PAD, y=_H - 2, class_="tick", text_anchor="end"),
    ]
    return el(
        "svg",
        bars,
        labels,
        xmlns="http://www.w3.org/2000/svg",
        class_="histogram",
        width=_W,
        height=_H,
        viewBox=f"0 0 {_W} {_H}",
        role="img",
        aria_label="histogram",
    )
