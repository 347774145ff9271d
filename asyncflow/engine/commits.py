"""Group commit: the tasks that finish while one transaction runs share the next one.

A trivial task costs a fraction of a SQLite commit and of a worker-thread hop. The
first task to commit becomes the leader and commits alone; tasks finishing meanwhile
queue, and when the leader is done the first of them leads one transaction for the
whole queue. A task is still visible only once committed, and each transaction is
all-or-nothing, so a crash never shows half a task. A batch that fails is retried
task by task, so one bad task (a stale attempt, a full disk) fails only itself.
"""

from __future__ import annotations

import anyio

from ..store import ArtifactRef, Datastore, TaskRecord

__all__ = ["GroupCommit"]


class _Pending:
    """One task waiting for its commit."""

    def __init__(self, record: TaskRecord, refs: list[ArtifactRef], logs: dict[str, str]) -> None:
        self.item = (record, refs, logs)
        self.done = anyio.Event()
        self.lead = False
        self.error: Exception | None = None


class GroupCommit:
    """Commits a run's finished tasks in groups (call :meth:`commit` on the loop)."""

    def __init__(self) -> None:
        self._queue: list[_Pending] = []
        self._busy = False

    async def commit(
        self,
        datastore: Datastore,
        record: TaskRecord,
        refs: list[ArtifactRef],
        logs: dict[str, str],
        *,
        fenced: bool,
        limiter: anyio.CapacityLimiter,
    ) -> None:
        """Return once this task is committed; raise what its own commit raised."""
        me = _Pending(record, refs, logs)
        self._queue.append(me)
        if self._busy:
            await me.done.wait()
            if not me.lead:
                _raise(me)
                return
        self._busy = True
        batch, self._queue = self._queue, []
        try:
            await anyio.to_thread.run_sync(_commit, datastore, batch, fenced, limiter=limiter)
        finally:
            if self._queue:  # arrived during this transaction: the first leads the next
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._busy = False
            for pending in batch:
                if pending is not me:
                    pending.done.set()
        _raise(me)


def _raise(pending: _Pending) -> None:
    if pending.error is not None:
        raise pending.error


def _commit(datastore: Datastore, batch: list[_Pending], fenced: bool) -> None:
    """Commit ``batch`` in one transaction; if that fails, each task on its own."""
    if len(batch) > 1:
        try:
            datastore.commit_tasks([p.item for p in batch], fenced=fenced)
            return
        except Exception:
            pass  # find which task fails, and commit the others
    for pending in batch:
        try:
            datastore.commit_tasks([pending.item], fenced=fenced)
        except Exception as exc:
            pending.error = exc
