"""A flow run as if from another machine, for the shared-store liveness tests.

``ELSEWHERE_HOST`` is the host name this process gives itself (the stores record it
with the run and the writer's lease, as they would a real second machine's). The
run's large parameter is stored when the run starts and claimed, uncommitted, until
``start`` ends; with ``CRASH_GATE`` set, ``start`` writes one line to that fifo and
then blocks forever, so a test knows the claim is made and the run is live.
"""

import os
import socket

import anyio

from asyncflow import FlowSpec, Parameter, step

if os.environ.get("ELSEWHERE_HOST"):
    socket.gethostname = lambda: os.environ["ELSEWHERE_HOST"]

PAYLOAD = "p" * 300_000  # above the inline threshold: a blob of its own


def _open_gate() -> None:
    with open(os.environ["CRASH_GATE"], "w") as gate:
        gate.write("ready\n")


class ElsewhereFlow(FlowSpec):
    payload = Parameter("payload", default=PAYLOAD)

    @step
    async def start(self):
        if os.environ.get("CRASH_GATE"):
            await anyio.to_thread.run_sync(_open_gate)
            await anyio.sleep_forever()
        self.length = len(self.payload)
        self.next(self.end)

    @step
    def end(self):
        print(f"payload of {self.length} characters")


if __name__ == "__main__":
    ElsewhereFlow()
