"""Session fixtures: a real Dask scheduler and two workers over TCP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["DaskCluster", "dask_cluster", "dask_scheduler", "free_port"]

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaskCluster:
    """A ``dask scheduler`` and its ``dask worker`` processes, stopped by PID."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log = workdir / "dask.log"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
            "PYTHONPATH": str(REPO),
        }
        self.env.pop("ASYNCFLOW_HOME", None)

    def _start(self, *args: str) -> None:
        dask = str(Path(sys.executable).parent / "dask")
        with open(self.log, "ab") as log:
            self.procs.append(
                subprocess.Popen(
                    [dask, *args], stdout=log, stderr=log, env=self.env, cwd=self.log.parent
                )
            )

    def start(self, workers: int = 2) -> None:
        self._start(
            "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
            "--dashboard-address", ":0",
        )  # fmt: skip
        for _ in range(workers):
            self._start(
                "worker", self.address, "--nthreads", "1", "--nworkers", "1",
                "--host", "127.0.0.1", "--dashboard-address", ":0", "--death-timeout", "120",
            )  # fmt: skip
        from distributed import Client

        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(self.address, timeout="5s") as client:
                    client.wait_for_workers(workers, timeout=max(1, deadline - time.monotonic()))
                return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise

    def worker_pids(self) -> list[int]:
        """The PIDs of the worker processes (not their nannies)."""
        from distributed import Client

        with Client(self.address, timeout="10s") as client:
            return sorted(client.run(os.getpid).values())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A real Dask cluster for the session; skipped, with the reason, if it cannot start."""
    pytest.importorskip("distributed", reason="Dask is not installed (pip install asyncflow[dask])")
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        tail = cluster.log.read_text(errors="replace")[-2000:] if cluster.log.exists() else ""
        pytest.skip(f"the Dask scheduler and workers did not start: {exc!r}\n{tail}")
    yield cluster
    cluster.stop()


@pytest.fixture
def dask_scheduler(dask_cluster: DaskCluster) -> dict[str, str]:
    """For docs pages: ``$DASK_SCHEDULER``, the address of the session's Dask cluster."""
    return {"DASK_SCHEDULER": dask_cluster.address.replace("tcp://", "dask://")}
