"""The results chart (needs matplotlib: ``pip install '.[bench]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"asyncflow": "#2b7bba", "raw": "#999999", "pickle": "#e08a2c", "metaflow": "#c8443c"}


def draw(results: dict[str, Any], path: Path) -> Path:
    """Persist and load times per payload, and time per task, on log scales."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3, 3, 2]})
    _grouped(axes[0], results["large"], "persist_s", "persist (s, log)")
    _grouped(axes[1], results["large"], "load_s", "load in a fresh process (s, log)")
    _overhead(axes[2], results["overhead"])
    size = results["meta"]["config"]["size_mb"]
    fig.suptitle(f"asyncflow vs baselines — {size} MiB artifacts, medians")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def _grouped(ax: Any, rows: list[dict[str, Any]], key: str, title: str) -> None:
    kinds = list(dict.fromkeys(r["payload"] for r in rows))
    systems = [s for s in COLORS if any(r["system"] == s and r[key] for r in rows)]
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        values = {r["payload"]: r[key] for r in rows if r["system"] == system}
        xs = [k + i * width for k in range(len(kinds))]
        ax.bar(xs, [values.get(k) or 0 for k in kinds], width, label=system, color=COLORS[system])
    ax.set_xticks([k + width * (len(systems) - 1) / 2 for k in range(len(kinds))])
    ax.set_xticklabels(kinds, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def _overhead(ax: Any, rows: list[dict[str, Any]]) -> None:
    labels = [f"{r['system']}\n{r['tasks']:,}" for r in rows]
    colors = [COLORS.get(r["system"], "#555555") for r in rows]
    ax.bar(labels, [r["per_task_ms"] for r in rows], color=colors)
    ax.set_yscale("log")
    ax.set_title("time per task, trivial foreach (ms, log)", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
