"""``python -m benchmarks.loop_lag``: how long large values stall the event loop.

Two parts, each the median over ``--repeats`` rounds of a ticker's max lag (it sleeps
5 ms at a time on an asyncio loop; its wake-up late, less the longest time the OS kept
any thread of the process waiting for a CPU):

- ``store``: for 300 MB of ``bytes``, ``str`` and a tuple of ``bytes``, while a worker
  thread persists the value into a fresh local store, then loads it back (what
  ``await artifact.aload()`` does), for the raw-buffer path (``bytes/1``) beside the old
  one (msgpack for bytes and str, cloudpickle for the tuple) in the same rounds.
- ``engine``: the same values and a NumPy array, while the engine runs a flow that
  stores the value and reads it back in an async step, with a flow of 20 small tasks on
  the same loop, beside a blocking baseline in the same rounds: the loop persisting and
  loading the value itself. The issue's goal: the engine's max lag under 50 ms.

Figures: ``benchmarks/README.md``. tests/test_loop.py checks the structure (the heavy
work runs off the loop's thread); the figures are here.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from asyncflow import Runner
from asyncflow.store import ArtifactRef, Datastore
from serializers import BytesSerializer, Registry, builtin_serializers

from .loop_lag_flows import PAYLOAD, LargeValueFlow, SmallTasksFlow

TICK = 0.005
GOAL_MS = 50.0


def payloads(size: int) -> dict[str, Any]:
    """The values measured, built before any clock starts."""
    item = 1024 * 1024
    return {
        "bytes": bytes(size),
        "str": bytes(size).decode("ascii"),
        "tuple of bytes": tuple(bytes(item) for _ in range(size // item)),
    }


def registries() -> dict[str, Registry]:
    """The new path, and the old one: the same built-ins without the raw-buffer serializer."""
    old = [s for s in builtin_serializers() if not isinstance(s, BytesSerializer)]
    return {
        "raw buffers (bytes/1)": Registry(plugins=False),
        "old path": Registry(old, plugins=False),
    }


def _cpu_waits() -> dict[str, float]:
    """Seconds each thread of this process has spent runnable but waiting for a CPU."""
    waits = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            waits[task.name] = int((task / "schedstat").read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
    return waits


def _off_cpu(before: dict[str, float], after: dict[str, float]) -> float:
    # the longest any one thread (the loop's, or a worker holding the GIL) waited for a CPU
    return max((after[t] - before[t] for t in before.keys() & after.keys()), default=0.0)


async def lag_while(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """(max loop lag, seconds, result) of awaiting ``work()`` on this loop."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start, waits = time.perf_counter(), _cpu_waits()
            await asyncio.sleep(TICK)
            elapsed = time.perf_counter() - start
            lags.append(elapsed - TICK - _off_cpu(waits, _cpu_waits()))

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(2 * TICK)
    started = time.perf_counter()
    try:
        result = await work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await task
    return max(lags, default=0.0), seconds, result


async def max_lag_during(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(max loop lag, seconds, result) of ``work`` run in a worker thread."""
    return await lag_while(lambda: asyncio.to_thread(work))


async def one_round(store: Datastore, value: Any) -> dict[str, tuple[float, float]]:
    """Lag and duration of persisting ``value``, then of loading it back."""
    persist_lag, persist_s, ref = await max_lag_during(lambda: store.persist("big", value))
    assert isinstance(ref, ArtifactRef)
    load_lag, load_s, back = await max_lag_during(lambda: store.load(ref))
    assert back == value
    return {"persist": (persist_lag, persist_s), "load": (load_lag, load_s)}


async def measure(size: int, repeats: int, workdir: Path) -> list[dict[str, Any]]:
    """One row per (kind, path): medians over ``repeats`` fresh stores."""
    rows = []
    for kind, value in payloads(size).items():
        samples: dict[str, list[dict[str, tuple[float, float]]]] = {}
        for _ in range(repeats):
            for path, registry in registries().items():  # interleaved: same load on both
                root = Path(tempfile.mkdtemp(dir=workdir))
                samples.setdefault(path, []).append(
                    await one_round(Datastore(root, registry=registry), value)
                )
                shutil.rmtree(root)
                gc.collect()
        for path, rounds in samples.items():
            row: dict[str, Any] = {"kind": kind, "path": path}
            for phase in ("persist", "load"):
                row[f"{phase} lag ms"] = statistics.median(r[phase][0] for r in rounds) * 1e3
                row[f"{phase} s"] = statistics.median(r[phase][1] for r in rounds)
            encoding = registries()[path].serialize(value).encoding
            row["encoding"] = encoding
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| value | path | encoding | persist: max lag | persist | load: max lag | load |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['path']} | `{r['encoding']}` | {r['persist lag ms']:.0f} ms "
            f"| {r['persist s']:.2f} s | {r['load lag ms']:.0f} ms | {r['load s']:.2f} s |"
        )
    return "\n".join(lines)


def engine_payloads(size: int) -> dict[str, Any]:
    """The store part's values and a NumPy array of the same size."""
    return {"numpy array": np.full(size, 7, dtype=np.uint8), **payloads(size)}


async def engine_round(workdir: Path, value: Any) -> dict[str, float]:
    """Max lag while the engine runs LargeValueFlow and SmallTasksFlow on this loop, and
    while the loop persists and loads ``value`` itself (the blocking baseline)."""
    PAYLOAD["value"] = value

    async def both_runs() -> None:
        big = Runner(LargeValueFlow, datastore_root=Path(tempfile.mkdtemp(dir=workdir)))
        small = Runner(SmallTasksFlow, datastore_root=Path(tempfile.mkdtemp(dir=workdir)))
        results = await asyncio.gather(big.async_run(), small.async_run())
        assert all(r.status == "successful" for r in results)

    async def on_the_loop() -> None:
        store = Datastore(Path(tempfile.mkdtemp(dir=workdir)))
        store.load(store.persist("big", value))

    engine_lag, _, _ = await lag_while(both_runs)
    blocking_lag, _, _ = await lag_while(on_the_loop)
    for path in workdir.iterdir():
        shutil.rmtree(path)
    gc.collect()
    return {"engine": engine_lag, "blocking": blocking_lag}


async def measure_engine(size: int, repeats: int, workdir: Path) -> list[dict[str, Any]]:
    """One row per value: median max lags of the engine and of the blocking baseline."""
    rows = []
    for kind, value in engine_payloads(size).items():
        rounds = [await engine_round(workdir, value) for _ in range(repeats)]
        engine = statistics.median(r["engine"] for r in rounds) * 1e3
        blocking = statistics.median(r["blocking"] for r in rounds) * 1e3
        rows.append({"kind": kind, "engine ms": engine, "blocking ms": blocking})
    PAYLOAD.clear()
    return rows


def engine_table(rows: list[dict[str, Any]]) -> str:
    """The engine rows as a Markdown table."""
    lines = [
        "| value | engine run: max lag | blocking baseline: max lag | ratio | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = r["engine ms"] / r["blocking ms"] if r["blocking ms"] else float("nan")
        met = "met" if r["engine ms"] < GOAL_MS else "missed"
        lines.append(
            f"| {r['kind']} | {r['engine ms']:.0f} ms | {r['blocking ms']:.0f} ms "
            f"| {ratio:.3f} | < {GOAL_MS:.0f} ms: {met} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and print their tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loop_lag")
    parser.add_argument("--size-mb", type=int, default=300, help="value size (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per median (default 3)")
    parser.add_argument("--part", choices=["store", "engine", "all"], default="all")
    args = parser.parse_args(argv)
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as workdir:
        if args.part in ("store", "all"):
            print(table(asyncio.run(measure(size, args.repeats, Path(workdir)))))
        if args.part in ("engine", "all"):
            rows = asyncio.run(measure_engine(size, args.repeats, Path(workdir)))
            print(engine_table(rows))


if __name__ == "__main__":
    main()
