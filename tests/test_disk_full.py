"""A full disk under the store is said as such, with the path, on a real small file system."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow.exceptions import DatastoreError
from asyncflow.store import Datastore, TaskRecord

from .conftest import run_python

FILL_FLOW = """
import os
from asyncflow import FlowSpec, step

class FillFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(60))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.noise = os.urandom(60_000)  # inline: it goes into SQLite
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FillFlow()
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test (needs root)."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    proc = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run([umount, "-l", str(disk)], check=True)


def test_a_full_disk_under_sqlite_names_the_database(small_disk: Path) -> None:
    store = Datastore(small_disk / "store")
    run = store.metadata.create_run("F", "ann", {}, [], [])
    with pytest.raises(DatastoreError) as info:
        for task_id in range(1, 100):
            ref = store.persist("noise", os.urandom(60_000), step="s")
            task = TaskRecord("F", run.run_id, "s", task_id, "successful", 0, 0.0, 1.0)
            store.commit_task(task, [ref], {})
    database = small_disk / "store" / "metadata.db"
    assert info.value.message.startswith(
        f"the disk is full: cannot write the metadata database {database} ("
    )
    assert "free on its file system" in info.value.message
    # The store is still readable, and what was committed before is intact.
    assert len(store.metadata.list_tasks("F", run.run_id)) == task_id - 1


def test_a_full_disk_under_the_blobs_names_the_blob_directory(small_disk: Path) -> None:
    store = Datastore(small_disk / "store")
    with pytest.raises(DatastoreError) as info:
        store.persist("big", os.urandom(3 << 20), step="s")
    assert info.value.message.startswith(
        f"the disk is full: cannot write a blob under {small_disk / 'store' / 'blobs'}: "
    )
    assert not list((small_disk / "store" / "blobs" / "tmp").iterdir())  # nothing left behind


def test_a_flow_that_fills_the_disk_fails_saying_so(small_disk: Path) -> None:
    script = small_disk.parent / "fill_flow.py"
    script.write_text(FILL_FLOW)
    proc = run_python(str(script), "run", root=small_disk / "store")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    database = small_disk / "store" / "metadata.db"
    assert f"DatastoreError: the disk is full: cannot write the metadata database {database}" in (
        output
    )
    assert "disk I/O error" not in output
