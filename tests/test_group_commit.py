"""Group commit: tasks finishing together share a transaction, and each stays all-or-nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncflow.engine import commits as commits_module
from asyncflow.engine.commits import GroupCommit
from asyncflow.store import Datastore, TaskRecord

pytestmark = pytest.mark.anyio


class CountingStore(Datastore):
    """A real datastore that records the size of every batch it commits."""

    batches: list[int]

    def commit_tasks(self, batch: Any, *, fenced: bool = False) -> None:
        self.batches.append(len(batch))
        super().commit_tasks(batch, fenced=fenced)


def _record(task_id: int, status: str = "successful") -> TaskRecord:
    return TaskRecord("F", 1, "work", task_id, status)


async def _commit_all(store: Datastore, records: list[TaskRecord]) -> dict[int, Exception]:
    commits, errors = GroupCommit(), {}

    async def one(record: TaskRecord) -> None:
        try:
            await commits.commit(store, record, [], {"stdout": f"task {record.task_id}"},
                                 fenced=False)  # fmt: skip
        except Exception as exc:
            errors[record.task_id] = exc

    async with anyio.create_task_group() as tg:
        for record in records:
            tg.start_soon(one, record)
    return errors


def _store(root: Path) -> CountingStore:
    store = CountingStore(root)
    store.batches = []
    store.metadata.create_run("F", "me", {}, [], [])
    return store


async def test_tasks_finishing_together_share_transactions(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert await _commit_all(store, [_record(i) for i in range(1, 201)]) == {}
    assert sum(store.batches) == 200
    assert len(store.batches) < 200  # those finishing while one commits wait for the next
    tasks = store.metadata.list_tasks("F", 1)
    assert sorted(t.task_id for t in tasks) == list(range(1, 201))
    assert store.metadata.get_logs("F", 1, 150, "stdout") == "task 150"


async def test_a_task_whose_commit_fails_fails_alone(tmp_path: Path) -> None:
    store = _store(tmp_path)
    # a record the tasks table refuses (no such run): its batch fails, then each task alone
    bad = TaskRecord("F", 99, "work", 7, "successful")
    records = [_record(i) for i in range(1, 41)]
    records[6] = bad
    errors = await _commit_all(store, records)
    assert list(errors) == [7]
    committed = sorted(t.task_id for t in store.metadata.list_tasks("F", 1))
    assert committed == [i for i in range(1, 41) if i != 7]


async def test_the_commit_thread_ends_when_idle_and_the_next_commit_starts_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commits_module, "LINGER", 0.01)
    store, commits = _store(tmp_path), GroupCommit()
    with anyio.fail_after(30):
        await commits.commit(store, _record(1), [], {}, fenced=False)
        while any(t.name == "asyncflow-commits" for t in threading.enumerate()):
            await anyio.sleep(0.01)
        await commits.commit(store, _record(2), [], {}, fenced=False)
    assert sorted(t.task_id for t in store.metadata.list_tasks("F", 1)) == [1, 2]


class GatedStore(Datastore):
    """A real datastore whose commits wait until the test opens the gate."""

    entered: threading.Event
    gate: threading.Event

    def commit_tasks(self, batch: Any, *, fenced: bool = False) -> None:
        self.entered.set()
        self.gate.wait(30)
        super().commit_tasks(batch, fenced=fenced)


async def test_a_task_cancelled_while_it_commits_returns_only_once_committed_and_done(
    tmp_path: Path,
) -> None:
    store = GatedStore(tmp_path)
    store.entered, store.gate = threading.Event(), threading.Event()
    store.metadata.create_run("F", "me", {}, [], [])
    commits, seen, told = GroupCommit(), {}, []

    async def one(scope: anyio.CancelScope) -> None:
        with scope:
            await commits.commit(store, _record(1), [], {}, fenced=False,
                                 committed_anyway=lambda: told.append("done"))  # fmt: skip
        seen["committed when it returned"] = bool(store.metadata.list_tasks("F", 1))
        seen["cancelled"] = scope.cancelled_caught

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()
            tg.start_soon(one, scope)
            while not store.entered.is_set():  # the commit thread is in the transaction
                await anyio.sleep(0.005)
            scope.cancel()
            await anyio.sleep(0.05)
            assert seen == {}  # still waiting for its commit
            store.gate.set()
    assert seen == {"committed when it returned": True, "cancelled": True}
    assert told == ["done"]  # so that the engine reports the task done, not cancelled


async def test_when_no_commit_thread_can_start_the_tasks_fail_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    store = _store(tmp_path)
    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", refuse)
        with anyio.fail_after(30):
            errors = await _commit_all(store, [_record(i) for i in range(1, 4)])
    assert sorted(errors) == [1, 2, 3]
    assert all("can't start new thread" in str(e) for e in errors.values())
    assert store.metadata.list_tasks("F", 1) == []
    with anyio.fail_after(30):  # once threads start again, so do commits
        assert await _commit_all(store, [_record(4)]) == {}
