from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import dask_cluster, dask_scheduler  # noqa: F401  (fixtures for every module)
from tests.servers import Postgres, S3Server, ServerUnavailable, give_up, postgres, seaweedfs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh datastore root, made current through ASYNCFLOW_HOME."""
    root = tmp_path / "store"
    monkeypatch.setenv("ASYNCFLOW_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    yield root


def run_python(
    *args: str,
    root: Path,
    cwd: Path | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the test interpreter in a subprocess against the datastore at ``root``
    (``env`` adds to the environment)."""
    env = {**os.environ, "ASYNCFLOW_HOME": str(root), "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd or root.parent, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server for the session; the AWS_* variables point at it."""
    try:
        with (
            seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server,
            pytest.MonkeyPatch.context() as mp,
        ):
            for name, value in server.env.items():
                mp.setenv(name, value)
            yield server
    except ServerUnavailable as exc:
        give_up(f"no S3 server: {exc}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL cluster for the session, in a directory of its own under the system
    temporary directory (pytest's is private to this user; the server runs as postgres)."""
    workdir = Path(tempfile.mkdtemp(prefix="asyncflow-postgres-"))
    try:
        with postgres(workdir) as server:
            yield server
    except ServerUnavailable as exc:
        give_up(f"no PostgreSQL server: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def shared_store(s3_server: S3Server, postgres_server: Postgres) -> dict[str, str]:
    """Environment for a docs page run against S3 + PostgreSQL (fresh prefix and schema)."""
    return {
        **s3_server.env,
        "ASYNCFLOW_DATASTORE": s3_server.fresh_url(),
        "ASYNCFLOW_METADATA": postgres_server.fresh_url(),
    }
