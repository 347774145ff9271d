"""A flow script for the crash, Ctrl-C and disk-full tests (run as a real subprocess).

``CRASH_GATE`` names a fifo: the ``work`` task of item 2 writes one line to
it, then blocks forever, so a test knows exactly when to send a signal.
``CRASH_GATE_KIND=sync`` runs ``SyncCrashFlow``, whose ``work`` blocks in its
worker thread instead of awaiting.
"""

import os
import threading

import anyio

from asyncflow import FlowSpec, step

BIG = 12 << 20  # three 4 MiB write chunks, so a kill can land mid-blob


def big_value() -> bytes:
    return bytes(range(256)) * (BIG // 256)


def _open_gate() -> None:
    with open(os.environ["CRASH_GATE"], "w") as gate:
        gate.write("ready\n")


class CrashFlow(FlowSpec):
    @step
    def start(self):
        self.small = "committed before the crash"
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    async def work(self):
        self.square = self.input * self.input
        if os.environ.get("CRASH_GATE") and self.input == 2:
            await anyio.to_thread.run_sync(_open_gate)
            await anyio.sleep_forever()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = sorted(i.square for i in inputs)
        self.next(self.big)

    @step
    def big(self):
        self.blob = big_value()
        self.next(self.end)

    @step
    def end(self):
        print(f"squares {self.squares}, blob of {len(self.blob)} bytes")


class SyncCrashFlow(CrashFlow):
    """The same flow, but ``work`` blocks in a worker thread, which no one can cancel."""

    @step
    def work(self):
        self.square = self.input * self.input
        if os.environ.get("CRASH_GATE") and self.input == 2:
            _open_gate()
            threading.Event().wait()
        self.next(self.join)


if __name__ == "__main__":
    SyncCrashFlow() if os.environ.get("CRASH_GATE_KIND") == "sync" else CrashFlow()
