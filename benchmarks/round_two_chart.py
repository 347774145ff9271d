"""The chart of issue #13's figures: ``python -m benchmarks.round_two_chart [JSON]``.

Reads ``results/round-two.json`` (written by ``python -m benchmarks.round_two``) and
writes ``results/round-two.png`` beside it (needs matplotlib). Baselines are grey,
Metaflow red, asyncflow blue; dashed lines are the goals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def draw(figures: dict[str, Any], path: Path) -> Path:
    """Three panels: start-up CPU, CPU per task, persist time over the raw write."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    panels = [
        ("startup_cpu_s", "whole-process CPU (s, log)", True, ()),
        ("cpu_per_task_ms", "CPU per trivial task via the CLI (ms)", False, (0.3,)),
        ("persist_vs_raw", "1 GiB NumPy persist / raw write", False, (1.0, 1.2)),
    ]
    for ax, (key, title, log, goals) in zip(axes, panels, strict=True):
        values = figures[key]
        ax.bar(list(values), list(values.values()), color=[_color(k) for k in values])
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=7, rotation=35)
        if log:
            ax.set_yscale("log")
        for goal in goals:
            ax.axhline(goal, color="#555555", linestyle="--", linewidth=1)
    fig.suptitle("asyncflow round two (issue #13): medians, baselines from the same runs")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def _color(label: str) -> str:
    if "Metaflow" in label or "before" in label:
        return "#c8443c"
    return "#9a9a9a" if label.startswith("python") else "#2b7bba"


def main(argv: list[str]) -> None:
    """Draw the chart from the JSON beside it."""
    source = Path(argv[0]) if argv else RESULTS / "round-two.json"
    print(draw(json.loads(source.read_text()), source.with_suffix(".png")))


if __name__ == "__main__":
    main(sys.argv[1:])
