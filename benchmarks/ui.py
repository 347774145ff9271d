"""Page latency of the run browser over a big store, beside a trivial route of the same app.

``python -m benchmarks.ui [--runs 10000] [--tasks 10000] [--repeats 15]`` fills a fresh
SQLite store straight through the metadata protocol (``--runs`` runs of one flow, the
newest with a foreach of ``--tasks`` tasks, one retried), then requests each page in
interleaved rounds through Starlette's TestClient (the whole ASGI app, no network) and
prints a Markdown table of medians: each page beside a trivial Starlette route served by
the same app (the baseline) and beside reading every task of the run (what an unpaged run
page would cost at least).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asyncflow.store import AttemptRecord, Datastore, TaskRecord
from asyncflow.store.metadata import TaskCommit

FLOW = "Many"


def fill(root: Path, runs: int, tasks: int) -> int:
    """The store: ``runs`` runs, the newest a foreach of ``tasks``; its run id."""
    store = Datastore(root)
    meta = store.metadata
    for _ in range(runs - 1):
        record = meta.create_run(FLOW, "bench", {}, ["nightly"], ["user:bench"])
        meta.finish_run(FLOW, record.run_id, "successful")
    graph = {"steps": [{"name": "start", "kind": "foreach", "next": ["fan"], "foreach": "xs"},
                       {"name": "fan", "kind": "linear", "next": ["join"], "foreach": None},
                       {"name": "join", "kind": "join", "next": ["end"], "foreach": None},
                       {"name": "end", "kind": "end", "next": [], "foreach": None}]}  # fmt: skip
    big = meta.create_run(FLOW, "bench", {}, [], ["user:bench"], graph=graph).run_id
    meta.commit_task(TaskRecord(FLOW, big, "start", 1, "successful", 0, 1.0, 2.0), [])
    meta.put_attempt(big, AttemptRecord(2, 0, "failed", 2.0, 2.5), {"stderr": "flaky"})
    batch: list[TaskCommit] = []
    for i in range(tasks):
        frame = [{"step": "start", "var": "xs", "index": i, "num_splits": tasks}]
        attempt = 1 if i == 0 else 0
        task = TaskRecord(FLOW, big, "fan", 2 + i, "successful", attempt, 2.0, 3.0 + i / tasks,
                          frame, [1], attempt_started_at=2.6 if attempt else None)  # fmt: skip
        batch.append((task, [], {"stdout": f"task {i}\n"}))
    meta.commit_tasks(batch)
    meta.finish_run(FLOW, big, "failed")  # join and end never ran: drawn greyed
    store.close()
    return big


def pages(big: int, runs: int, tasks: int) -> dict[str, str]:
    """The pages measured, by label."""
    return {
        "baseline: a trivial Starlette route": "/ping",
        "flows": "/",
        "runs, page 1": f"/flows/{FLOW}",
        f"runs, last page ({runs:,} runs)": f"/flows/{FLOW}?page={runs // 50 - 1}",
        f"run ({tasks:,}-task foreach), timeline page 1": f"/flows/{FLOW}/{big}",
        "run, last timeline page": f"/flows/{FLOW}/{big}?tl={tasks // 200 - 1}",
        "step, last page of tasks": f"/flows/{FLOW}/{big}/fan?page={tasks // 200 - 1}",
        "task (a retried one)": f"/flows/{FLOW}/{big}/fan/2",
    }


def measure(root: Path, big: int, runs: int, tasks: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per request of each page, ``repeats`` interleaved rounds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    from asyncflow.client import get_datastore
    from asyncflow.ui import create_app

    targets = pages(big, runs, tasks)
    meta = get_datastore(root).metadata
    samples: dict[str, list[float]] = {label: [] for label in targets}
    every_task = f"reference: every task of the run read ({tasks + 1:,} rows)"
    samples[every_task] = []
    app = Starlette(routes=[Route("/ping", _ping), Mount("/", app=create_app(root))])
    with TestClient(app) as client:
        for path in targets.values():  # warm: the store opened, the app's first import
            client.get(path).raise_for_status()
        order = list(targets.items())
        for round_ in range(repeats):  # a shuffled order each round: no page always first
            random.Random(round_).shuffle(order)
            for label, path in order:
                samples[label].append(_timed(_getter(client, path)))
        for _ in range(repeats):  # apart: its garbage must not land on a page's time
            samples[every_task].append(_timed(lambda: meta.list_tasks(FLOW, big)))
    return samples


async def _ping(request: Any) -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("ok")


def _getter(client: Any, path: str) -> Callable[[], object]:
    return lambda: client.get(path).raise_for_status()


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def table(samples: dict[str, list[float]]) -> str:
    """Medians in milliseconds and their ratio to the baseline route."""
    base = statistics.median(samples["baseline: a trivial Starlette route"])
    lines = ["| page | median ms | x baseline |", "|---|---:|---:|"]
    for label, values in samples.items():
        median = statistics.median(values)
        lines.append(f"| {label} | {median * 1000:.1f} | {median / base:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ui", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=10_000, help="runs of the flow (default 10000)")
    p.add_argument("--tasks", type=int, default=10_000, help="foreach size (default 10000)")
    p.add_argument("--repeats", type=int, default=15, help="rounds behind each median")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="asyncflow-bench-ui-") as tmp:
        root = Path(tmp) / ".asyncflow"
        started = time.perf_counter()
        big = fill(root, args.runs, args.tasks)
        print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)
        print(table(measure(root, big, args.runs, args.tasks, args.repeats)))


if __name__ == "__main__":
    main()
