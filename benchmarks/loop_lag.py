"""``python -m benchmarks.loop_lag``: how long large bytes-like values stall the event loop.

For 300 MB of ``bytes``, ``str`` and a tuple of ``bytes``, a ticker on an asyncio loop
sleeps 5 ms at a time while a worker thread persists the value into a fresh local
store, then while it loads it back (what ``await artifact.aload()`` does). Reported:
the ticker's max lag (its wake-up late, less the time the OS kept it waiting for a CPU:
the measure of ``tests/test_loop.py``), the median over ``--repeats`` rounds, for the
raw-buffer path (``bytes/1``) beside the old one (msgpack for bytes and str, cloudpickle
for the tuple) in the same rounds. Figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncflow.store import ArtifactRef, Datastore
from serializers import BytesSerializer, Registry, builtin_serializers

TICK = 0.005


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


async def max_lag_during(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(max loop lag, seconds, result) of ``work`` run in a worker thread."""
    lags: list[float] = []
    done = threading.Event()

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
        result = await asyncio.to_thread(work)
    finally:
        seconds = time.perf_counter() - started
        done.set()
        await task
    return max(lags, default=0.0), seconds, result


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


def main(argv: list[str] | None = None) -> None:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loop_lag")
    parser.add_argument("--size-mb", type=int, default=300, help="value size (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per median (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        rows = asyncio.run(measure(args.size_mb * 1024 * 1024, args.repeats, Path(workdir)))
    print(table(rows))


if __name__ == "__main__":
    main()
