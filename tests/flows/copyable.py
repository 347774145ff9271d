"""A flow whose runs have what a copy must keep: a card, a retried task (two attempts,
each with its output), and, with ``COPYABLE_FAIL`` set, a failure that ``resume`` ends."""

import os

from asyncflow import FlowSpec, card, current, retry, step


class CopyableFlow(FlowSpec):
    @card(type="test_pathspec_card")
    @step
    def start(self):
        self.value = "x" * 100_000  # a blob of its own
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise ValueError("the first attempt fails")
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("COPYABLE_FAIL"):
            raise RuntimeError("failed as asked")


if __name__ == "__main__":
    CopyableFlow()
