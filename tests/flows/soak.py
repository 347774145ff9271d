"""The soak test's flow: a foreach with random failures, a retried step, a caught step,
and a blob-sized artifact. ``SOAK_SEED`` decides which tasks fail (run as a script)."""

import os
import random

from asyncflow import FlowSpec, Parameter, catch, retry, step

FAIL_RATE = 0.15


def fails(step_name: str, index: int = 0) -> bool:
    """Whether this task fails in this process (deterministic per seed, step and index)."""
    seed = os.environ.get("SOAK_SEED")
    return seed is not None and random.Random(f"{seed}/{step_name}/{index}").random() < FAIL_RATE


def payload(n: int) -> bytes:
    return bytes((i * n) % 251 for i in range(256)) * (4096 * (1 + n % 3))  # 1-3 MiB


class SoakFlow(FlowSpec):
    n = Parameter("n", default=4)
    scale = Parameter("scale", default=1)

    @step
    def start(self):
        if fails("start"):
            raise RuntimeError("start failed")
        self.items = list(range(self.n))
        self.payload = payload(self.n)
        self.next(self.work, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    async def work(self):
        if fails("work", self.input):
            raise ValueError(f"work {self.input} failed")
        self.value = self.input**2 + self.scale
        self.next(self.join)

    @step
    def join(self, inputs):
        if fails("join"):
            raise RuntimeError("join failed")
        self.total = sum(i.value for i in inputs)
        self.payload_len = len(inputs[0].payload)
        self.next(self.flaky)

    @catch(var="flaky_error", print_exception=False)
    @step
    def flaky(self):
        if fails("flaky"):
            raise KeyError("flaky failed")
        self.next(self.end)

    @step
    def end(self):
        self.summary = {"total": self.total, "payload_len": self.payload_len}


if __name__ == "__main__":
    SoakFlow()
