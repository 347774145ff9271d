"""Processes for the gc race tests: ``writer``, ``long_lease`` and ``collector``.

python -m tests.flows.gc_race writer ROOT RUNS TASKS
    RUNS runs of TASKS tasks each, every artifact in a blob file; each run's
    ``param`` is written first and committed last (a long lease), some values are
    shared by every writer (stored once, re-claimed by each), some never committed.
python -m tests.flows.gc_race long_lease ROOT ROTATIONS
    writes ``param``, ages it past any grace period, rotates its lease ROTATIONS
    times by committing other values, then commits ``param``; prints its key.
python -m tests.flows.gc_race collector ROOT GRACE STOPFILE
    runs gc passes back to back until STOPFILE exists; prints how many.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from asyncflow.store import Datastore, TaskRecord
from asyncflow.store.maintenance import collect_garbage

FLOW = "RaceFlow"
OLD = 1_000_000.0


def expected(run_pathspec: str, name: str) -> bytes:
    """The value a writer stores as ``name`` (recomputable by the checker)."""
    if name == "shared":
        return b"shared by every writer " * 4000
    return f"{run_pathspec}/{name} ".encode() * 3000


def writer(root: str, runs: int, tasks: int) -> None:
    store = Datastore(root, inline_threshold=0)
    for _ in range(runs):
        run = store.metadata.create_run(FLOW, "w", {}, [], [])
        spec = f"{FLOW}/{run.run_id}"
        param = store.persist("param", expected(spec, "param"), step="start")
        for task_id in range(2, tasks + 2):
            names = (f"a{task_id}", f"b{task_id}", "shared")
            refs = [store.persist(n, expected(spec, n), step="s") for n in names]
            store.persist("never_committed", os.urandom(200_000), step="s")
            store.commit_task(_task(run.run_id, "s", task_id), refs)
        store.commit_task(_task(run.run_id, "start", 1), [param])
        store.metadata.finish_run(FLOW, run.run_id, "successful")
    store.close()


def long_lease(root: str, rotations: int) -> None:
    store = Datastore(root, inline_threshold=0)
    run = store.metadata.create_run(FLOW, "w", {}, [], [])
    spec = f"{FLOW}/{run.run_id}"
    param = store.persist("param", expected(spec, "param"), step="start")
    os.utime(store.local_blobs.path(param.key), (OLD, OLD))  # as if the step ran for days
    for task_id in range(2, rotations + 2):
        ref = store.persist(f"a{task_id}", expected(spec, f"a{task_id}"), step="s")
        store.commit_task(_task(run.run_id, "s", task_id), [ref])  # rotates the lease file
    store.commit_task(_task(run.run_id, "start", 1), [param])
    store.metadata.finish_run(FLOW, run.run_id, "successful")
    print(param.key, flush=True)
    store.close()


def collector(root: str, grace: float, stopfile: str) -> None:
    store = Datastore(root)
    passes = 0
    while not Path(stopfile).exists():
        collect_garbage(store, grace=grace)
        passes += 1
    print(passes, flush=True)


def _task(run_id: int, step: str, task_id: int) -> TaskRecord:
    return TaskRecord(FLOW, run_id, step, task_id, "successful", 0, 0.0, 1.0)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "writer":
        writer(args[0], int(args[1]), int(args[2]))
    elif command == "long_lease":
        long_lease(args[0], int(args[1]))
    else:
        collector(args[0], float(args[1]), args[2])
