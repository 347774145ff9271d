"""Metaflow twin of ``af_worker.PersistFlow``: builds one payload in ``start``.

Metaflow persists in the task's own process after the body returns, then the process
exits; an ``atexit`` hook closes the phase there and writes it to ``$BENCH_OUT``.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

import numpy  # noqa: F401  (imported before the baseline, like in the asyncflow worker)
import pandas  # noqa: F401
import pyarrow  # noqa: F401
from metaflow import FlowSpec, step

from benchmarks import payloads, probe


def _mark_step_end(flow_rss: int) -> None:
    phase = probe.Phase()
    phase.begin()
    payload_rss = phase.rss_before - flow_rss

    def report() -> None:
        phase.end()
        result: dict[str, Any] = {"persist_s": phase.seconds, "flow_rss": flow_rss,
                                  "persist_cpu_s": phase.cpu_seconds,
                                  "payload_rss": payload_rss, "peak_rss": phase.peak}  # fmt: skip
        probe.write_result(os.environ["BENCH_OUT"], result)

    atexit.register(report)


class MFPersistFlow(FlowSpec):
    """One payload, persisted by Metaflow's local datastore."""

    @step
    def start(self) -> None:
        flow_rss = probe.rss()
        self.payload = payloads.make(os.environ["BENCH_KIND"], int(os.environ["BENCH_NBYTES"]))
        _mark_step_end(flow_rss)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    MFPersistFlow()
