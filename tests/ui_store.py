"""A datastore filled with real runs for the UI tests, and a hostile one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from asyncflow import Runner
from asyncflow.client import get_datastore
from asyncflow.store import ArtifactRef, TaskRecord, content_key

from .flows.ui_flows import BrokenFlow, BrowsedFlow

HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_LOG = "<img src=x onerror=alert('log')>"


@dataclass(frozen=True)
class FilledStore:
    root: Path
    browsed: int
    broken: int
    crashed: int
    hostile: int


def fill_store(root: Path) -> FilledStore:
    """A successful foreach of 200, a failed run, a crashed run, a hostile run."""
    browsed = Runner(BrowsedFlow, datastore_root=root, max_num_splits=1000).run().run_id
    broken = Runner(BrokenFlow, datastore_root=root).run().run_id
    store = get_datastore(root)
    crashed = store.metadata.create_run("BrokenFlow", "ann", {}, ["nightly"], ["user:ann"])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    store.metadata.set_run_owner(crashed.run_id, socket.gethostname(), int(dead.stdout))
    return FilledStore(root, int(browsed), int(broken), crashed.run_id, _hostile(root))


def _hostile(root: Path) -> int:
    """A run written straight through the metadata protocol, as a hostile writer could."""
    store = get_datastore(root)
    run = store.metadata.create_run("BrowsedFlow", "<b>mallory</b>", {"<p>": "<i>x</i>"},
                                    ["<u>tag</u>"], ["user:<b>mallory</b>"])  # fmt: skip
    data = b"\xa5hello"  # msgpack "hello"
    ref = ArtifactRef(HOSTILE_NAME, content_key([data]), "msgpack/1", len(data), "str", {}, True,
                      data)  # fmt: skip
    now = time.time()
    task = TaskRecord("BrowsedFlow", run.run_id, "start", 1, "failed", 0, now, now,
                      exception=f"Traceback\n{HOSTILE_LOG}")  # fmt: skip
    store.metadata.commit_task(task, [ref], {"stdout": HOSTILE_LOG, "stderr": ""})
    store.metadata.finish_run("BrowsedFlow", run.run_id, "failed", f"Error {HOSTILE_LOG}",
                              f"BrowsedFlow/{run.run_id}/start/1")  # fmt: skip
    return run.run_id


def gate_env(gate: Path) -> dict[str, str]:
    return {**os.environ, "UI_TEST_GATE": str(gate)}
