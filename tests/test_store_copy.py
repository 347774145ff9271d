"""`asyncflow copy`: runs move between a local store and S3 + PostgreSQL, and back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from asyncflow import Flow, namespace
from asyncflow.store import Datastore, resolve_urls
from asyncflow.store.copy import copy_runs
from asyncflow.store.maintenance import verify

from .conftest import REPO
from .servers import Postgres, S3Server

FAN = str(REPO / "tests" / "flows" / "fan_script.py")


def _python(*args: str, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ASYNCFLOW_HOME": str(home), **extra}
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


COPYABLE = str(REPO / "tests" / "flows" / "copyable.py")


def test_a_copied_run_keeps_its_times_graph_attempts_cards_and_origin(tmp_path: Path) -> None:
    local = tmp_path / "local"
    failed = _python(COPYABLE, "run", home=local, COPYABLE_FAIL="1")
    assert failed.returncode == 1, failed.stderr
    resumed = _python(COPYABLE, "resume", home=local)
    assert resumed.returncode == 0, resumed.stderr
    src, dst = Datastore(local), Datastore(tmp_path / "dst")
    assert copy_runs(src, dst).runs_copied == 2
    for src_id, dst_id in ((1, 1), (2, 2)):
        before, after = (
            src.metadata.get_run("CopyableFlow", src_id),
            dst.metadata.get_run("CopyableFlow", dst_id),
        )
        assert before is not None and after is not None
        assert (after.status, after.created_at, after.finished_at) == (
            before.status, before.created_at, before.finished_at
        )  # fmt: skip
        assert dst.metadata.get_run_graph(dst_id) == src.metadata.get_run_graph(src_id)
    after = dst.metadata.get_run("CopyableFlow", 2)
    assert after is not None and after.origin_run_id == 1  # the copy of the run it resumed
    namespace(None)
    flaky = Flow("CopyableFlow", root=tmp_path / "dst")["1"]["flaky"].task
    assert flaky is not None and flaky.stdout == "attempt 1\n"
    assert dst.metadata.get_logs("CopyableFlow", 1, int(flaky.id), "stdout", 0) == "attempt 0\n"
    ids = [t.task_id for t in src.metadata.list_tasks("CopyableFlow", 1)]
    assert dst.metadata.list_attempts(1, ids) == src.metadata.list_attempts(1, ids)
    (start,) = src.metadata.list_tasks("CopyableFlow", 1, "start")
    (card,) = dst.metadata.list_cards("CopyableFlow", 1, start.task_id)
    assert card.run_id == 1 and card.type == "test_pathspec_card"
    assert dst.blobs.get(card.key).tobytes() == src.blobs.get(card.key).tobytes()
    assert verify(dst).problems == []
