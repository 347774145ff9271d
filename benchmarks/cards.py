"""What a card costs per task: the same foreach with no card, a ``blank`` card and a
``default`` card (which also reads the task's artifacts), run side by side in one
process, interleaved, medians of ``--repeats`` runs.

Run: ``python benchmarks/cards.py [--tasks 200] [--repeats 3]`` (prints ms per task).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import anyio

from asyncflow import Engine
from asyncflow.store import Datastore
from benchmarks.card_flows import BlankCardFlow, DefaultCardFlow, NoCardFlow

FLOWS = {"no card": NoCardFlow, "blank card": BlankCardFlow, "default card": DefaultCardFlow}


def _one(flow: type[NoCardFlow], tasks: int) -> float:
    """Seconds for one run of ``flow`` with ``tasks`` foreach tasks, in a fresh store."""
    flow.tasks = tasks
    with tempfile.TemporaryDirectory() as root:
        store = Datastore(root)
        start = time.perf_counter()
        result = anyio.run(Engine(store, max_num_splits=tasks).run, flow)
        elapsed = time.perf_counter() - start
        store.close()
    if not result.successful:
        raise RuntimeError(f"{flow.__name__} failed: {result.traceback}")
    return elapsed


def measure(tasks: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per foreach task of each variant."""
    samples: dict[str, list[float]] = {name: [] for name in FLOWS}
    for _ in range(repeats):
        for name, flow in FLOWS.items():  # interleaved, so load drifts hit every variant
            samples[name].append(_one(flow, tasks))
    return {name: statistics.median(s) * 1000 / tasks for name, s in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    per_task = measure(args.tasks, args.repeats)
    base = per_task["no card"]
    print(f"{args.tasks} foreach tasks, median of {args.repeats} runs")
    for name, ms in per_task.items():
        print(f"{name:>13}: {ms:7.2f} ms per task  ({ms / base:4.2f}x, +{ms - base:5.2f} ms)")


if __name__ == "__main__":
    main()
