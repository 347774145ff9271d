"""Flows the UI tests browse: a foreach with tables, arrays and logs, a failure,
a flaky step, and a run that waits for a gate file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from asyncflow import FlowSpec, Parameter, card, current, retry, step
from asyncflow.cards import Markdown

ROWS = 200_000  # a frame of a few MB: memory-mapped, never read whole by a preview


class BrowsedFlow(FlowSpec):
    """start -> fan (foreach of `width`) -> join -> end, with artifacts of every kind."""

    width = Parameter("width", default=200)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.frame = pa.table(
            {"id": np.arange(ROWS), "value": np.arange(ROWS) * 0.5, "label": ["row"] * ROWS}
        )
        self.samples = np.random.default_rng(0).normal(10.0, 2.0, 50_000)
        self.settings = {"name": "browsed", "depth": 3, "ratios": [0.5, 0.25]}
        self.pairs = (1, 2)  # a tuple: stored with cloudpickle
        self.report = "line <i>one</i>\n" * 100_000  # over 1 MiB: stored raw (bytes/1)
        self.blob = bytes(range(256)) * 8192
        self.chunks = (b"a" * 700_000, b"b" * 700_000)  # raw too: lengths, then the items
        self.people = pd.DataFrame(
            {"age": np.arange(1000) % 90, "name": [f"p{i}" for i in range(1000)]},
            index=pd.Index([f"id{i}" for i in range(1000)], name="key"),
        )
        print("<b>bold</b> & <script>alert('log')</script>")
        self.next(self.fan, foreach="items")

    @step
    def fan(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @card(type="blank")
    @step
    def end(self):
        current.card.append(Markdown("# Total: computed"))
        print(f"total {self.total}")


class BrokenFlow(FlowSpec):
    """Fails in `explode` after a flaky step that needed two attempts."""

    fail = Parameter("fail", default=True)

    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.next(self.explode)

    @step
    def explode(self):
        if self.fail:
            raise ValueError("the <b>answer</b> is not 42")
        self.next(self.end)

    @step
    def end(self):
        pass


class GatedFlow(FlowSpec):
    """Waits in `wait` until the file named by $UI_TEST_GATE exists, then in `more`
    until that name with `.2` added does: a live page is seen between the two."""

    @step
    def start(self):
        self.next(self.wait)

    @step
    def wait(self):
        _wait_for(Path(os.environ["UI_TEST_GATE"]))
        self.opened = True
        self.next(self.more)

    @step
    def more(self):
        _wait_for(Path(os.environ["UI_TEST_GATE"] + ".2"))
        self.next(self.end)

    @step
    def end(self):
        pass


def _wait_for(gate: Path) -> None:
    while not gate.exists():
        time.sleep(0.05)
