"""`asyncflow copy`: runs move between a local store and S3 + PostgreSQL, and back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from asyncflow import Flow, namespace
from asyncflow.store import Datastore, resolve_urls
from asyncflow.store.maintenance import verify

from .conftest import REPO
from .servers import Postgres, S3Server

FAN = str(REPO / "tests" / "flows" / "fan_script.py")


def _python(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ASYNCFLOW_HOME": str(home)}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_copy_to_s3_and_postgresql_and_back_verifies_and_copies_nothing_twice(
    tmp_path: Path, s3_server: S3Server, postgres_server: Postgres
) -> None:
    local, back = tmp_path / "local", tmp_path / "back"
    for _ in range(2):
        assert _python(FAN, "run", home=local).returncode == 0
    s3, pg = s3_server.fresh_url(), postgres_server.fresh_url()
    there = ["-m", "asyncflow", "copy", str(local), s3, "--dst-metadata", pg]
    first = _python(*there, home=local)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("copied 2 runs, 1 blob, ")  # `big`, stored once
    again = _python(*there, home=local)
    assert again.stdout.startswith("copied 0 runs, 0 blobs, 0 bytes; 2 runs and 0 blobs")
    namespace(None)
    shared = resolve_urls(s3, pg)
    runs = list(Flow("FanFlow", root=shared).runs())
    assert len(runs) == 2 and all(r.successful for r in runs)
    start = runs[0]["start"].task
    assert start is not None and start.data.big == b"x" * 200_000
    assert start.stdout == "starting\n"
    assert any(t.startswith("copied_from:") for t in runs[0].system_tags)
    home = ["-m", "asyncflow", "copy", s3, str(back), "--src-metadata", pg]
    assert _python(*home, home=local).stdout.startswith("copied 2 runs, 1 blob")
    assert verify(Datastore(back)).problems == []
    assert [r.data.answer for r in Flow("FanFlow", root=back).runs() if r.data] == [42, 42]


def test_a_damaged_source_blob_stops_the_copy_naming_the_artifact(tmp_path: Path) -> None:
    local = tmp_path / "local"
    assert _python(FAN, "run", home=local).returncode == 0
    store = Datastore(local)
    (key,) = store.blobs.keys()
    path = store.local_blobs.path(key)
    path.chmod(0o644)
    path.write_bytes(b"y" * path.stat().st_size)
    proc = _python("-m", "asyncflow", "copy", str(local), str(tmp_path / "dst"), home=local)
    assert proc.returncode != 0
    assert "FanFlow/1/start/1/big" in proc.stderr and "does not match its hash" in proc.stderr
    assert list(Flow("FanFlow", root=local).runs()) != []
    assert (
        not (tmp_path / "dst" / "metadata.db").exists()
        or Datastore(tmp_path / "dst").metadata.list_runs("FanFlow") == []
    )
