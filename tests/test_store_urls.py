"""Opening stores by URL: the defaults, the environment, the CLI, and a flow run end to end
against S3 (SeaweedFS) + PostgreSQL started by the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asyncflow import Flow, Run, Runner, Task
from asyncflow.exceptions import DatastoreError
from asyncflow.store import Datastore, StoreURLs, TaskRecord, resolve_urls

from .conftest import REPO
from .flows.arrays import ArrayFlow, N
from .servers import Postgres, S3Server

FAN = str(Path(__file__).parent / "flows" / "fan_script.py")


def test_the_default_is_the_local_store_with_sqlite_inside(store_root: Path) -> None:
    urls = resolve_urls()
    assert urls == StoreURLs(str(store_root), f"sqlite://{store_root}/metadata.db")
    assert urls.blobs_are_local and urls.sqlite_path == store_root / "metadata.db"


def test_environment_variables_choose_the_stores(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNCFLOW_DATASTORE", "s3://bucket/some/prefix/")
    monkeypatch.setenv("ASYNCFLOW_METADATA", "postgresql://ann@db.example/flows")
    urls = resolve_urls()
    assert urls == StoreURLs("s3://bucket/some/prefix", "postgresql://ann@db.example/flows")
    assert not urls.blobs_are_local and urls.sqlite_path is None
    # An explicit argument wins over the environment; S3 blobs + SQLite is a valid mix.
    mixed = resolve_urls("s3://other", metadata="local")
    assert mixed == StoreURLs("s3://other", f"sqlite://{store_root}/metadata.db")


@pytest.mark.parametrize(
    ("datastore", "metadata", "message"),
    [
        ("gs://bucket", None, "datastore 'gs://bucket': unknown scheme 'gs'"),
        ("s3://", None, "datastore URL 's3://' names no bucket"),
        (None, "mysql://db", "metadata 'mysql://db' is not 'local'"),
        (None, "postgresql://ann:s3cret@db/x?x=1&y=", None),  # accepted as given
        (None, "sqlite://", "metadata URL 'sqlite://' names no file"),
    ],
)
def test_bad_urls_are_named(
    store_root: Path, datastore: str | None, metadata: str | None, message: str | None
) -> None:
    if message is None:
        assert resolve_urls(datastore, metadata).metadata == metadata
        return
    with pytest.raises(DatastoreError, match=message.replace("?", r"\?")):
        resolve_urls(datastore, metadata)


def test_a_password_never_shows_in_a_message(store_root: Path) -> None:
    urls = StoreURLs("s3://b", "postgresql://ann:s3cret@db/x")
    assert "s3cret" not in str(urls) and "ann:***@db" in str(urls)


def test_the_urls_of_an_open_datastore_open_the_same_stores(tmp_path: Path) -> None:
    first = Datastore.open(tmp_path / "a", metadata=f"sqlite:///{tmp_path}/elsewhere.db")
    run = first.metadata.create_run("F", "ann", {}, [], [])
    first.commit_task(TaskRecord("F", run.run_id, "start", 1, "successful"), [])
    again = Datastore.open(first.urls.datastore, metadata=first.urls.metadata)
    assert again.urls == first.urls
    assert [t.pathspec for t in again.metadata.list_tasks("F", run.run_id)] == [
        f"F/{run.run_id}/start/1"
    ]
    assert (tmp_path / "elsewhere.db").exists() and not (tmp_path / "a" / "metadata.db").exists()


def test_the_cli_rejects_an_unknown_metadata_url(store_root: Path) -> None:
    proc = _cli(FAN, "--metadata", "mysql://db", "run", env={})
    assert proc.returncode == 2
    assert "metadata 'mysql://db' is not 'local'" in proc.stderr


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_flow_runs_and_reads_back_on_s3_and_postgresql(
    store_root: Path, s3_server: S3Server, postgres_server: Postgres
) -> None:
    env = {
        "ASYNCFLOW_DATASTORE": s3_server.fresh_url(),
        "ASYNCFLOW_METADATA": postgres_server.fresh_url(),
    }
    proc = _cli(FAN, "run", env=env)
    assert proc.returncode == 0, proc.stderr
    # Nothing went to the local store: blobs are in S3, records in PostgreSQL.
    assert not store_root.exists()
    run = Flow("FanFlow", root=StoreURLs(env["ASYNCFLOW_DATASTORE"], env["ASYNCFLOW_METADATA"]))
    latest = run.latest_run
    assert latest is not None and latest.successful and not latest.crashed
    assert latest.data is not None and latest.data.answer == 42
    assert _task(latest, "join").data.joined == "ABC"
    assert _task(latest, "start").data.big == b"x" * 200_000  # a blob, read from S3
    answer = f"{_task(latest, 'end').pathspec}/answer"
    shown = _cli("-m", "asyncflow", "show", answer, env=env)  # the env vars reach `asyncflow`
    assert shown.returncode == 0 and "42" in shown.stdout, shown.stderr


def test_the_runner_and_client_take_the_urls(
    store_root: Path, s3_server: S3Server, postgres_server: Postgres
) -> None:
    urls = resolve_urls(s3_server.fresh_url(), postgres_server.fresh_url())
    result = Runner(ArrayFlow, datastore_root=urls.datastore, metadata=urls.metadata).run()
    assert result.successful and result.urls == urls and result.root == urls.datastore
    run = Run(result.pathspec, root=urls)
    assert run.data is not None
    assert run.data.total == float(np.arange(N, dtype=np.float64).sum() + N * 1.0)
    assert _task(run, "join").data.frame.loc[0, "y"] == -1.0


def _task(run: Run, step: str) -> Task:
    task = run[step].task
    assert task is not None
    return task
