"""The example service, run by a real uvicorn server on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from asyncflow import Run

REPO = Path(__file__).resolve().parent.parent
SERVICE = REPO / "examples" / "service"

# The listening socket is made here and handed down, so requests wait in its backlog
# until the server accepts them: no port race, no polling for readiness.
SERVE = (
    "import socket, sys, uvicorn;"
    "sock = socket.socket(fileno=int(sys.argv[1]));"
    "config = uvicorn.Config('app:create_app', factory=True, log_level='warning');"
    "uvicorn.Server(config).run(sockets=[sock])"
)


class Server:
    """A uvicorn server running the example service in a subprocess."""

    def __init__(self, store_root: Path) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        env = {
            **os.environ, "ASYNCFLOW_HOME": str(store_root),
            "PYTHONPATH": os.pathsep.join([str(REPO), str(SERVICE)]),
        }  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(sock.fileno())], pass_fds=[sock.fileno()],
            env=env, cwd=store_root.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        sock.close()

    def stop(self) -> None:
        """Shut down gracefully (the app's lifespan ends) and check it went cleanly."""
        if self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        output, _ = self.proc.communicate(timeout=60)
        assert self.proc.returncode in (0, -signal.SIGTERM), output
        assert "Traceback" not in output, output


@pytest.fixture
def server(store_root: Path) -> Iterator[Server]:
    server = Server(store_root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def test_a_run_per_request_with_its_table_as_arrow(service: httpx.Client) -> None:
    started = service.post("/runs", params={"days": 2})
    assert started.status_code == 202
    run_id = started.json()["id"]
    assert started.json() == {"id": run_id, "status": "running"}
    done = service.get(f"/runs/{run_id}", params={"wait": "true"})
    assert done.json() == {
        "id": run_id,
        "status": "successful",
        "tasks_done": 7,
        "failed_task": None,
    }

    table = service.get(f"/runs/{run_id}/artifacts/report")
    assert table.headers["content-type"] == "application/vnd.apache.arrow.stream"
    report = pa.ipc.open_stream(table.content).read_all()
    assert report.to_pydict() == {
        "region": ["east", "north", "south", "west"],
        "total": [9, 3, 6, 12],
    }
    summary = service.get(f"/runs/{run_id}/artifacts/summary")
    assert summary.json() == {"regions": 4, "total": 30}


def test_runs_at_once_share_the_server(service: httpx.Client) -> None:
    ids = [service.post("/runs", params={"days": d}).json()["id"] for d in (1, 2, 3)]
    assert len(set(ids)) == 3
    totals = []
    for run_id in ids:
        assert service.get(f"/runs/{run_id}", params={"wait": "true"}).json()["status"] == (
            "successful"
        )
        totals.append(service.get(f"/runs/{run_id}/artifacts/summary").json()["total"])
    assert totals == [10, 30, 60]


def test_cancel_a_run_in_progress(service: httpx.Client) -> None:
    run_id = service.post("/runs", params={"hold": 3600}).json()["id"]
    cancelled = service.delete(f"/runs/{run_id}")
    assert cancelled.json() == {"id": run_id, "status": "cancelled"}
    assert service.get(f"/runs/{run_id}").json()["status"] == "cancelled"
    assert service.delete(f"/runs/{run_id}").status_code == 409


def test_bad_requests_are_answered_with_the_reason(service: httpx.Client) -> None:
    bad = service.post("/runs", params={"days": "many"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "parameter 'days': 'many' is not a valid integer."}
    missing = service.get("/runs/999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "run 'ReportFlow/999' does not exist"}


def test_shutdown_cancels_the_runs_in_progress(
    server: Server, service: httpx.Client, store_root: Path
) -> None:
    run_id = service.post("/runs", params={"hold": 3600}).json()["id"]
    server.stop()
    run = Run(f"ReportFlow/{run_id}", root=store_root)
    assert run.status == "cancelled"
    assert [s.id for s in run.steps()] == ["start"]


def test_a_runs_events_as_server_sent_events(service: httpx.Client) -> None:
    run_id = service.post("/runs", params={"days": 1}).json()["id"]
    names, data = [], []
    with service.stream("GET", f"/runs/{run_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                names.append(line.removeprefix("event: "))
            elif line.startswith("data: "):
                data.append(json.loads(line.removeprefix("data: ")))
    assert names[0] == "RunStarted" and data[0] == {"pathspec": f"ReportFlow/{run_id}"}
    assert names[-1] == "RunFinished"
    assert data[-1] == {"pathspec": f"ReportFlow/{run_id}", "status": "successful"}
    assert names.count("TaskStarted") == names.count("TaskFinished") == 7
    tallies = [
        d
        for n, d in zip(names, data, strict=True)
        if n == "TaskStarted" and "/tally/" in d["pathspec"]
    ]
    assert sorted(d["foreach"][0][0] for d in tallies) == [0, 1, 2, 3]
