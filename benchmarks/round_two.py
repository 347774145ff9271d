"""Issue #13's figures in one command: ``python -m benchmarks.round_two`` (about 10 minutes).

Runs, in this order, :mod:`benchmarks.startup` (whole-process CPU; Metaflow's read and
tutorial too when ``benchmarks/.venv-metaflow`` exists), :mod:`benchmarks.scale` (a
trivial foreach through the CLI: 1,000 and 10,000 tasks three times each, 100,000 once)
and :mod:`benchmarks.persist_speed` (1 GiB NumPy array against the raw write, with and
without fsync), prints their tables, and writes ``results/round-two.json`` (each figure
beside its baseline from the same run, and the goals) and ``results/round-two.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import persist_speed, round_two_chart, scale, startup

RESULTS = Path(__file__).resolve().parent / "results"
#: The goals of issue #13 (CPU seconds, milliseconds per task, ratios).
GOALS = {"import asyncflow": 0.08, "small read": 0.12, "small read / Metaflow": 0.25,
         "tutorial": 0.2, "cpu_per_task_ms": 0.3, "list_tasks_s": 1.0,
         "persist_vs_raw": 1.2}  # fmt: skip


def main(argv: list[str]) -> dict[str, Any]:
    """Run the three benchmarks; write and return the figures."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.round_two")
    p.add_argument("--repeats", type=int, default=5, help="rounds of the start-up figures")
    p.add_argument("--tasks", default="1000,10000", help="foreach sizes run three times")
    p.add_argument("--no-big", dest="big", action="store_false", help="skip 100,000 tasks")
    p.add_argument("--size-mb", type=int, default=1024, help="the persisted array's size")
    p.add_argument("--out", type=Path, default=RESULTS / "round-two.json")
    p.add_argument("--no-chart", dest="chart", action="store_false")
    a = p.parse_args(argv)
    started = time.time()
    cpu = startup.main(["--repeats", str(a.repeats), "--tasks", ""])
    print()
    rows = scale.main(["--tasks", a.tasks, "--repeats", "3", *(["--big"] if a.big else [])])
    print()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    persisted = persist_speed.main(["--size-mb", str(a.size_mb), "--repeats", "3",
                                    "--workdir", str(a.out.parent)])  # fmt: skip
    figures = _figures(cpu, rows, persisted)
    figures["minutes"] = round((time.time() - started) / 60, 1)
    figures["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    a.out.write_text(json.dumps(figures, indent=1))
    print(f"\n{a.out} ({figures['minutes']} minutes)")
    if a.chart:
        print(round_two_chart.draw(figures, a.out.with_suffix(".png")))
    return figures


def _figures(
    cpu: dict[str, float], rows: list[dict[str, float]], persisted: list[dict[str, float]]
) -> dict[str, Any]:
    names = {
        "python -c pass": "python -c pass",
        "python + sqlite3 + msgpack": "python + sqlite3 + msgpack",
        "import asyncflow": "import asyncflow",
        "read a small artifact (fresh process)": "asyncflow: small read",
        "Metaflow: read a small artifact (fresh process)": "Metaflow: small read",
        "tutorial flow, whole process": "asyncflow: tutorial",
        "Metaflow: tutorial flow, whole process": "Metaflow: tutorial",
    }
    return {
        "startup_cpu_s": {short: cpu[long] for long, short in names.items() if long in cpu},
        "cpu_per_task_ms": {f"{int(r['tasks']):,} tasks": r["cpu_per_task_ms"] for r in rows},
        "peak_mb": {f"{int(r['tasks']):,} tasks": r["peak_mb"] for r in rows},
        "list_tasks_s": {f"{int(r['tasks']):,} tasks": r["list_s"] for r in rows},
        "list_tasks_cpu_s": {f"{int(r['tasks']):,} tasks": r["list_cpu_s"] for r in rows},
        "persist_vs_raw": {
            f"{'fsync' if r['fsync'] else 'no fsync'}": r["ratio"] for r in persisted
        },
        "persist_s": persisted,
        "scale": rows,
        "goals": {
            "import asyncflow": 0.08,
            "small read": 0.12,
            "small read / Metaflow": 0.25,
            "tutorial": 0.2,
            "cpu_per_task_ms": 0.3,
            "list_tasks_s": 1.0,
            "persist_vs_raw": 1.2,
        },
    }


if __name__ == "__main__":
    main(sys.argv[1:])
