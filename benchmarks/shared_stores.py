"""Shared stores: asyncflow on S3 beside obstore's raw put/get, PostgreSQL beside SQLite.

``python -m benchmarks.shared_stores`` starts a SeaweedFS and a PostgreSQL the way the
test suite does (``tests/servers.py``), then, in one process and interleaved per repeat:

- persist and load of a pandas frame and a NumPy array (256 MiB and 1 GiB by default)
  through :class:`asyncflow.store.Datastore` on ``s3://``, beside obstore's own
  ``put``/``get`` of as many bytes to the same server (its default, multipart put);
- the per-task cost of committing 1,000 commit-shaped tasks (a task row, five inline
  artifacts, two log streams) to PostgreSQL and to SQLite, one transaction per task and
  in groups of 16 (what the engine's group commit makes of a busy foreach).

Figures are medians; ``ratio`` is the median over repeats of raw time over asyncflow's
in that repeat (goal: at least 0.8); the two sides of a repeat run back to back, each
going first in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .harness import REPO, log

KINDS = ("frame_numeric", "numpy_array")


def main(argv: list[str] | None = None) -> None:
    """Run both benchmarks and print their tables (``--json FILE`` keeps every sample)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.shared_stores", description=__doc__)
    p.add_argument("--sizes-mb", default="256,1024", help="artifact sizes, comma-separated")
    p.add_argument("--repeats", type=int, default=3, help="interleaved runs per figure")
    p.add_argument("--tasks", type=int, default=1000, help="tasks per commit measurement")
    p.add_argument("--only", choices=["s3", "commit"], help="one of the two benchmarks")
    p.add_argument("--json", type=Path, help="also write every sample here")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes_mb.split(",")]
    results: dict[str, Any] = {}
    with servers() as (s3, pg):
        if args.only in (None, "s3"):
            results["s3"] = bench_s3(s3, sizes, args.repeats)
            print(s3_table(results["s3"]))
        if args.only in (None, "commit"):
            results["commit"] = bench_commits(pg, args.tasks, args.repeats)
            print(commit_table(results["commit"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


@contextmanager
def servers() -> Iterator[tuple[Any, Any]]:
    """A SeaweedFS and a PostgreSQL started as the tests start them; AWS_* point at S3."""
    sys.path.insert(0, str(REPO))
    from tests.servers import postgres, seaweedfs

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="af-bench-s3-")))
        pg_dir = Path(tempfile.mkdtemp(prefix="af-bench-pg-"))  # the server's user must reach it
        log("starting SeaweedFS and PostgreSQL")
        s3 = stack.enter_context(seaweedfs(work / "weed"))
        pg = stack.enter_context(postgres(pg_dir))
        os.environ.update(s3.env)
        yield s3, pg


# -- S3: asyncflow against the raw client --------------------------------------------


def bench_s3(s3: Any, sizes_mb: list[int], repeats: int) -> list[dict[str, Any]]:
    """One row per (payload, size): medians of asyncflow and raw persist/load."""
    from . import payloads

    rows = []
    for size in sizes_mb:
        for kind in KINDS:
            value = payloads.make(kind, size << 20)
            raw = _encoded(value)  # the bytes asyncflow stores, in one buffer
            samples: dict[str, list[dict[str, float]]] = {"asyncflow": [], "raw": []}
            for repeat in range(repeats):
                log(f"s3 {kind} {size} MiB: repeat {repeat + 1}/{repeats}")
                # Each side goes first in turn: the server's load drifts within a pair too.
                for system in ("asyncflow", "raw")[:: 1 if repeat % 2 == 0 else -1]:
                    sample = _asyncflow_s3(s3, value) if system == "asyncflow" else _raw_s3(s3, raw)
                    samples[system].append(sample)
            rows.append(_s3_row(kind, size, len(raw), samples))
            table = s3_table(rows[-1:]).splitlines()
            log(f"{table[2]} {table[-3]}")
            del value, raw
    return rows


def _encoded(value: Any) -> bytes:
    from serializers import default_registry

    return b"".join(memoryview(b).cast("B") for b in default_registry().serialize(value).buffers)


def _asyncflow_s3(s3: Any, value: Any) -> dict[str, float]:
    from asyncflow.store import Datastore

    with tempfile.TemporaryDirectory(prefix="af-bench-meta-") as meta:
        os.environ["ASYNCFLOW_HOME"] = meta  # its lease files, beside SQLite
        store = Datastore.open(s3.fresh_url(), metadata=f"sqlite://{meta}/metadata.db")
        try:
            persist, ref = _timed(lambda: store.persist("x", value))
            load, loaded = _timed(lambda: store.load(ref))
            del loaded
            parts = _load_parts(store, ref)
            store.blobs.delete(ref.key)
        finally:
            store.close()
    return {**_prefixed("persist", persist), **_prefixed("load", load), **parts}


def _load_parts(store: Any, ref: Any) -> dict[str, float]:
    """Where a load's time goes, measured again piece by piece: the GET, the BLAKE3 check,
    the decoding."""
    from asyncflow.store.blobs import content_key

    get, view = _timed(lambda: store.blobs.get(ref.key))
    verify, _ = _timed(lambda: content_key([view]))
    decode, _ = _timed(lambda: store.registry.deserialize(ref.encoding, view, ref.metadata))
    return {"get_s": get["s"], "verify_s": verify["s"], "decode_s": decode["s"]}


def _raw_s3(s3: Any, data: bytes) -> dict[str, float]:
    import obstore
    from obstore.store import S3Store

    from asyncflow.store.s3 import REQUEST_TIMEOUT

    store = S3Store(
        s3.bucket, config={"endpoint": s3.endpoint, "region": "us-east-1"},
        client_options={"allow_http": True, "timeout": REQUEST_TIMEOUT},
    )  # fmt: skip
    path = f"raw-{uuid.uuid4().hex}"
    put, _ = _timed(lambda: obstore.put(store, path, data))
    get, got = _timed(lambda: obstore.get(store, path).bytes())
    assert len(got) == len(data)
    del got
    obstore.delete(store, path)
    return {**_prefixed("persist", put), **_prefixed("load", get)}


def _timed(work: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return {"s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}, result


def _prefixed(prefix: str, sample: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in sample.items()}


def _s3_row(
    kind: str, size: int, nbytes: int, samples: dict[str, list[dict[str, float]]]
) -> dict[str, Any]:
    row: dict[str, Any] = {"payload": kind, "size_mb": size, "stored_bytes": nbytes}
    for system, runs in samples.items():
        for field in ("persist_s", "persist_cpu_s", "load_s", "load_cpu_s"):
            row[f"{system}_{field}"] = statistics.median(r[field] for r in runs)
    for part in ("get_s", "verify_s", "decode_s"):
        row[f"asyncflow_load_{part}"] = statistics.median(r[part] for r in samples["asyncflow"])
    for op in ("persist", "load"):
        # The median of each repeat's ratio: the two sides of a pair ran moments apart.
        pairs = zip(samples["raw"], samples["asyncflow"], strict=True)
        row[f"{op}_ratio"] = statistics.median(r[f"{op}_s"] / a[f"{op}_s"] for r, a in pairs)
    row["samples"] = samples
    return row


def s3_table(rows: list[dict[str, Any]]) -> str:
    """The S3 rows as a Markdown table."""
    lines = [
        "| payload | size | asyncflow persist | raw put | ratio | asyncflow load | raw get "
        "| ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['payload']} | {r['size_mb']} MiB "
            f"| {_s(r['asyncflow_persist_s'], r['asyncflow_persist_cpu_s'])} "
            f"| {_s(r['raw_persist_s'], r['raw_persist_cpu_s'])} | {r['persist_ratio']:.2f}x "
            f"| {_s(r['asyncflow_load_s'], r['asyncflow_load_cpu_s'])} "
            f"| {_s(r['raw_load_s'], r['raw_load_cpu_s'])} | {r['load_ratio']:.2f}x |"
        )
    lines += [
        "",
        "| payload | size | load: GET | BLAKE3 check | decode |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['payload']} | {r['size_mb']} MiB | {r['asyncflow_load_get_s']:.2f} s "
            f"| {r['asyncflow_load_verify_s']:.2f} s | {r['asyncflow_load_decode_s']:.3f} s |"
        )
    return "\n".join(lines) + "\n\n(wall seconds, client CPU seconds in brackets)\n"


def _s(wall: float, cpu: float) -> str:
    return f"{wall:.2f} s ({cpu:.2f})"


# -- metadata: PostgreSQL against SQLite ---------------------------------------------

GROUP = 16


def bench_commits(pg: Any, tasks: int, repeats: int) -> list[dict[str, Any]]:
    """Per-task commit cost on each database, one task per transaction and grouped."""
    samples: dict[tuple[str, str], list[float]] = {}
    for repeat in range(repeats):
        log(f"commits: repeat {repeat + 1}/{repeats}")
        for database in ("sqlite", "postgresql"):
            for mode in ("one per transaction", f"groups of {GROUP}"):
                group = 1 if mode == "one per transaction" else GROUP
                per_task = _commit_run(pg, database, tasks, group)
                samples.setdefault((database, mode), []).append(per_task)
    return [
        {"database": db, "mode": mode, "tasks": tasks, "per_task_ms": statistics.median(v),
         "samples_ms": v}
        for (db, mode), v in samples.items()
    ]  # fmt: skip


def _commit_run(pg: Any, database: str, tasks: int, group: int) -> float:
    """Milliseconds per task to commit ``tasks`` tasks in transactions of ``group``."""
    from asyncflow.store import Datastore

    with tempfile.TemporaryDirectory(prefix="af-bench-commit-") as home:
        metadata = f"sqlite://{home}/metadata.db" if database == "sqlite" else pg.fresh_url()
        store = Datastore.open(Path(home) / "store", metadata=metadata)
        try:
            if database == "postgresql":  # as a process that stored a blob: its lease is
                store.metadata.owner()  # type: ignore[attr-defined]  # renewed by each commit
            run = store.metadata.create_run("Commits", "bench", {}, [], [])
            batch = [_task(store, run.run_id, i) for i in range(1, tasks + 1)]
            start = time.perf_counter()
            for i in range(0, tasks, group):
                store.commit_tasks(batch[i : i + group])
            elapsed = time.perf_counter() - start
            assert len(store.metadata.list_tasks("Commits", run.run_id)) == tasks
        finally:
            store.close()
    return elapsed * 1000 / tasks


def _task(store: Any, run_id: int, task_id: int) -> Any:
    from asyncflow.store import TaskRecord

    now = time.time()
    record = TaskRecord("Commits", run_id, "work", task_id, "successful", 0, now, now, [], [])
    refs = [store.persist(f"a{i}", {"task": task_id, "i": i}) for i in range(5)]
    return record, refs, {"stdout": f"task {task_id}\n", "stderr": ""}


def commit_table(rows: list[dict[str, Any]]) -> str:
    """The commit rows as a Markdown table, each beside SQLite's figure for its mode."""
    sqlite = {r["mode"]: r["per_task_ms"] for r in rows if r["database"] == "sqlite"}
    lines = [
        f"| database | commits ({rows[0]['tasks']:,} tasks) | per task | vs SQLite |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['database']} | {r['mode']} | {r['per_task_ms']:.3f} ms "
            f"| {r['per_task_ms'] / sqlite[r['mode']]:.2f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
