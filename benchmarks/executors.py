"""``python -m benchmarks.executors``: executors side by side, in one run.

1. A CPU-bound foreach of 16 plain tasks: in-process (one GIL) against
   ``processes:2``.
2. Per-task cost of a trivial foreach: ``processes:2`` against in-process.
3. A trivial foreach of 1,000 on a Dask LocalCluster (2 workers) against bare Dask
   ``client.map`` + ``gather`` of the same trivial function on the same cluster.
4. A CPU-bound foreach of 16 one-second tasks on a LocalCluster of 1 against 2 workers.

Each figure is the median wall time of ``--repeats`` runs, in fresh stores. Writes
``benchmarks/results/executors.md`` and ``executors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from asyncflow import Engine
from asyncflow.executors import Executor
from asyncflow.executors.dask import DaskExecutor
from asyncflow.store import Datastore

from .executor_flows import CpuForeachFlow, TrivialForeachFlow, trivial

OUT = Path(__file__).resolve().parent / "results"


async def timed_run(flow: Any, params: dict[str, Any], executor: str | Executor | None) -> float:
    """Wall seconds of one run in a fresh store (the store's opening not counted)."""
    with tempfile.TemporaryDirectory() as root:
        engine = Engine(Datastore(root), executor=executor, max_workers=1000,
                        max_num_splits=1000)  # fmt: skip
        started = time.perf_counter()
        result = await engine.run(flow, params)
        elapsed = time.perf_counter() - started
        engine.datastore.close()
    if not result.successful:
        raise RuntimeError(result.traceback)
    return elapsed


async def median(repeats: int, measure: Callable[[], Awaitable[float]]) -> dict[str, Any]:
    samples = [await measure() for _ in range(repeats)]
    return {"median_s": statistics.median(samples), "samples": samples}


async def cpu_processes(repeats: int, tasks: int, seconds: float) -> dict[str, Any]:
    params = {"tasks": tasks, "seconds": seconds}
    here = await median(repeats, lambda: timed_run(CpuForeachFlow, params, None))
    procs = await median(repeats, lambda: timed_run(CpuForeachFlow, params, "processes:2"))
    return {"tasks": tasks, "seconds_per_task": seconds, "in_process": here,
            "processes_2": procs, "speedup": here["median_s"] / procs["median_s"]}  # fmt: skip


async def trivial_processes(repeats: int, tasks: int) -> dict[str, Any]:
    params = {"tasks": tasks}
    here = await median(repeats, lambda: timed_run(TrivialForeachFlow, params, None))
    procs = await median(repeats, lambda: timed_run(TrivialForeachFlow, params, "processes:2"))
    return {"tasks": tasks, "in_process": here, "processes_2": procs,
            "in_process_ms_per_task": 1000 * here["median_s"] / (tasks + 3),
            "processes_ms_per_task": 1000 * procs["median_s"] / (tasks + 3)}  # fmt: skip


async def dask_against_bare(repeats: int, tasks: int) -> dict[str, Any]:
    executor = DaskExecutor(None, 2)
    await executor.start()
    try:
        client = executor._client

        def bare() -> float:
            started = time.perf_counter()
            client.gather(client.map(trivial, range(tasks), pure=False))
            return time.perf_counter() - started

        async def bare_run() -> float:
            return await anyio.to_thread.run_sync(bare)

        await bare_run()  # warm both: the workers import what they run once
        await timed_run(TrivialForeachFlow, {"tasks": 10}, executor)
        ours = await median(repeats, lambda: timed_run(TrivialForeachFlow, {"tasks": tasks},
                                                       executor))  # fmt: skip
        theirs = await median(repeats, bare_run)
    finally:
        await executor.aclose()
    return {"tasks": tasks, "asyncflow_dask_local": ours, "bare_client_map": theirs,
            "ratio": ours["median_s"] / theirs["median_s"]}  # fmt: skip


async def dask_workers(repeats: int, tasks: int, seconds: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"tasks": tasks, "seconds_per_task": seconds}
    for workers in (1, 2):
        executor = DaskExecutor(None, workers)
        await executor.start()
        try:
            params = {"tasks": tasks, "seconds": seconds}
            figures[f"workers_{workers}"] = await median(
                repeats,
                lambda: timed_run(CpuForeachFlow, params, executor),  # noqa: B023
            )
        finally:
            await executor.aclose()
    figures["speedup"] = figures["workers_1"]["median_s"] / figures["workers_2"]["median_s"]
    return figures


def report(r: dict[str, Any]) -> str:
    c, t, d, w = r["cpu_processes"], r["trivial_processes"], r["dask_bare"], r["dask_workers"]
    return "\n".join([
        "# Executors", "", f"`{r['command']}`, {r['date']}, load average {r['load']}.",
        f"Medians of {r['repeats']} runs.", "",
        "| benchmark | baseline | asyncflow | ratio |", "|---|---:|---:|---:|",
        f"| CPU-bound foreach of {c['tasks']} x {c['seconds_per_task']} s: in-process vs "
        f"processes:2 | {c['in_process']['median_s']:.2f} s | "
        f"{c['processes_2']['median_s']:.2f} s | {c['speedup']:.2f}x faster |",
        f"| trivial foreach of {t['tasks']}: per task, in-process vs processes:2 | "
        f"{t['in_process_ms_per_task']:.2f} ms | {t['processes_ms_per_task']:.2f} ms | "
        f"{t['processes_ms_per_task'] / t['in_process_ms_per_task']:.1f}x |",
        f"| trivial foreach of {d['tasks']}: bare Dask client.map vs asyncflow on "
        f"dask-local:2 | {d['bare_client_map']['median_s']:.2f} s | "
        f"{d['asyncflow_dask_local']['median_s']:.2f} s | {d['ratio']:.2f}x |",
        f"| CPU-bound foreach of {w['tasks']} x {w['seconds_per_task']} s: dask-local 1 vs 2 "
        f"workers | {w['workers_1']['median_s']:.2f} s | {w['workers_2']['median_s']:.2f} s | "
        f"{w['speedup']:.2f}x faster |",
        "",
    ])  # fmt: skip


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.executors")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    p.add_argument("--out", type=Path, default=OUT)
    argv = sys.argv[1:] if argv is None else argv
    a = p.parse_args(argv)
    q = a.quick

    results: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "benchmarks.executors", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()), "repeats": a.repeats,
        "cpu_processes": await cpu_processes(a.repeats, 4 if q else 16, 0.05 if q else 0.25),
        "trivial_processes": await trivial_processes(a.repeats, 10 if q else 200),
        "dask_bare": await dask_against_bare(a.repeats, 20 if q else 1000),
        "dask_workers": await dask_workers(a.repeats if q else 1, 4 if q else 16,
                                           0.05 if q else 1.0),
    }  # fmt: skip
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "executors.json").write_text(json.dumps(results, indent=2))
    (a.out / "executors.md").write_text(report(results))
    print(report(results))
    return results


if __name__ == "__main__":
    anyio.run(main)
