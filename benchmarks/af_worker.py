"""asyncflow side of the benchmarks; each call runs in a fresh process.

    python -m benchmarks.af_worker persist KIND NBYTES ROOT OUT
    python -m benchmarks.af_worker load ROOT PATHSPEC OUT
    python -m benchmarks.af_worker foreach TASKS ROOT OUT

``persist`` times the end of the step body to the task's commit: the step marks its
own end (clock and memory) in :data:`SIDE`, and a listener on ``TaskFinished``
closes the phase. ``load`` times ``Run(...)["start"].task["payload"].data`` only.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import anyio
import numpy  # noqa: F401  (imported before the baseline, like the payload's libraries)
import pandas  # noqa: F401
import pyarrow  # noqa: F401

from asyncflow import Engine, FlowSpec, Run, step
from asyncflow.events import Event, TaskFinished
from asyncflow.store import Datastore
from benchmarks import payloads, probe

#: Side channel between the step body and the listener (same process, same run).
SIDE: dict[str, Any] = {}


class PersistFlow(FlowSpec):
    """Builds one payload in ``start``; the engine persists it when the step ends."""

    @step
    def start(self) -> None:
        SIDE["flow_rss"] = probe.rss()
        self.payload = payloads.make(SIDE["kind"], SIDE["nbytes"])
        _mark_step_end()
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class ForeachFlow(FlowSpec):
    """A trivial foreach: the engine's own cost per task."""

    @step
    async def start(self) -> None:
        self.items = list(range(SIDE["tasks"]))
        self.next(self.work, foreach="items")

    @step
    async def work(self) -> None:
        self.out = self.input * 2
        self.next(self.join)

    @step
    async def join(self, inputs: Any) -> None:
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    async def end(self) -> None:
        pass


def _mark_step_end() -> None:
    SIDE["phase"].begin()
    SIDE["payload_rss"] = SIDE["phase"].rss_before - SIDE["flow_rss"]


def _on_event(event: Event) -> None:
    if isinstance(event, TaskFinished) and event.pathspec.split("/")[2] == "start":
        SIDE["phase"].end()


def persist(kind: str, nbytes: int, root: str) -> dict[str, Any]:
    """Run :class:`PersistFlow` once and report the persist phase."""
    SIDE.update(kind=kind, nbytes=nbytes, phase=probe.Phase())
    engine = Engine(Datastore(root), listeners=[_on_event])
    result = anyio.run(engine.run, PersistFlow)
    phase: probe.Phase = SIDE["phase"]
    return {
        "status": result.status,
        "pathspec": result.pathspec,
        "persist_s": phase.seconds,
        "persist_cpu_s": phase.cpu_seconds,
        "flow_rss": SIDE["flow_rss"],
        "payload_rss": SIDE["payload_rss"],
        "peak_rss": phase.peak,
        "disk_bytes": _tree_bytes(root),
    }


def load(root: str, pathspec: str) -> dict[str, Any]:
    """Load the payload of ``pathspec`` through the client, timing only the load."""
    phase = probe.Phase()
    phase.begin()
    task = Run(pathspec, root=root)["start"].task
    assert task is not None
    value = task["payload"].data
    phase.end()
    return {"load_s": phase.seconds, "load_peak_delta": phase.peak - phase.rss_before,
            "type": type(value).__name__}  # fmt: skip


def foreach(tasks: int, root: str) -> dict[str, Any]:
    """Run :class:`ForeachFlow` over ``tasks`` items; report the run's wall time."""
    SIDE["tasks"] = tasks
    engine = Engine(Datastore(root), max_num_splits=tasks)
    started, cpu = time.perf_counter(), time.process_time()
    result = anyio.run(engine.run, ForeachFlow)
    return {"status": result.status, "run_s": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu}  # fmt: skip


def _tree_bytes(root: str) -> int:
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(root)
        for name in names
    )


def main(argv: list[str]) -> None:
    """Dispatch one worker command; the result goes to the last argument as JSON."""
    command, *args, out = argv
    if command == "persist":
        result = persist(args[0], int(args[1]), args[2])
    elif command == "load":
        result = load(args[0], args[1])
    elif command == "foreach":
        result = foreach(int(args[0]), args[1])
    else:
        raise SystemExit(f"unknown command {command!r}")
    probe.write_result(out, result)


if __name__ == "__main__":
    main(sys.argv[1:])
