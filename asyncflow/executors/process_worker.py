"""The main program of a ``processes`` worker: run each task spec the engine sends.

``python -m asyncflow.executors.process_worker FD FAULTS``: FD is this worker's end
of a socket to the engine, FAULTS a file where ``faulthandler`` writes the Python
traceback of a fatal signal (the engine adds it to the dead task's stderr). An empty
message, or the engine going away, ends it.
"""

from __future__ import annotations

import faulthandler
import sys
import threading
from multiprocessing.connection import Connection

import cloudpickle

from ..events import Event
from .worker import run_spec

__all__ = ["serve"]


def serve(conn: Connection) -> None:
    """Run specs from ``conn`` one at a time; send their events, then their outcomes."""
    lock = threading.Lock()

    def send(kind: str, payload: object) -> None:
        data = cloudpickle.dumps((kind, payload))
        with lock:  # events come from the step's worker threads too
            conn.send_bytes(data)

    def relay(event: Event) -> None:
        send("event", event)

    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        send("done", run_spec(cloudpickle.loads(data), relay))


if __name__ == "__main__":
    faulthandler.enable(int(sys.argv[2]), all_threads=True)
    serve(Connection(int(sys.argv[1])))
