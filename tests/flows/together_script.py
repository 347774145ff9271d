"""A flow whose start step waits until $RENDEZVOUS_COUNT runs have all started."""

import os

from asyncflow import FlowSpec, current, step
from tests.flows.rendezvous import rendezvous_dir, wait_until


class TogetherFlow(FlowSpec):
    @step
    def start(self):
        here = rendezvous_dir()
        (here / f"started-{os.getpid()}").touch()
        count = int(os.environ["RENDEZVOUS_COUNT"])
        wait_until(lambda: len(list(here.glob("started-*"))) >= count, "every run to start")
        # the command that was started: under a supervisor the engine is its child
        self.pid = int(os.environ.get("ASYNCFLOW_SUPERVISOR_PID", os.getpid()))
        self.payload = bytes([self.pid % 251]) * 100_000  # a blob file per run
        self.next(self.end)

    @step
    def end(self):
        self.run_id_seen = current.run_id


if __name__ == "__main__":
    TogetherFlow()
