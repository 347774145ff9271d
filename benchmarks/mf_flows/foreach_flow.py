"""Metaflow twin of ``af_worker.ForeachFlow``: a trivial foreach of ``$BENCH_TASKS``."""

from __future__ import annotations

import json
import os
from typing import Any

from metaflow import FlowSpec, step


class MFForeachFlow(FlowSpec):
    """A trivial foreach: Metaflow's cost per task."""

    @step
    def start(self) -> None:
        self.items = list(range(int(os.environ["BENCH_TASKS"])))
        self.next(self.work, foreach="items")

    @step
    def work(self) -> None:
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump({"total": self.total}, f)


if __name__ == "__main__":
    MFForeachFlow()
