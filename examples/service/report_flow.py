"""The flow the example service runs: sales per region, gathered into a table."""

from __future__ import annotations

import anyio
import pyarrow as pa

from asyncflow import FlowSpec, Parameter, step


class ReportFlow(FlowSpec):
    """Tally sales for each region, then gather them into one Arrow table."""

    days = Parameter("days", default=3, help="How many days of sales to tally.")
    hold = Parameter("hold", default=0.0, help="Seconds each tally waits (a slow upstream).")

    @step
    def start(self):
        self.regions = ["north", "south", "east", "west"]
        self.next(self.tally, foreach="regions")

    @step
    async def tally(self):
        await anyio.sleep(self.hold)  # stands in for an awaited call to another service
        self.region = self.input
        self.sales = [(self.index + 1) * (day + 1) for day in range(self.days)]
        self.next(self.gather)

    @step
    def gather(self, inputs):
        rows = sorted((i.region, sum(i.sales)) for i in inputs)
        self.report = pa.table({"region": [r for r, _ in rows], "total": [t for _, t in rows]})
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "regions": self.report.num_rows,
            "total": sum(self.report["total"].to_pylist()),
        }


if __name__ == "__main__":
    ReportFlow()
