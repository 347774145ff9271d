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


_Item = tuple[TaskRecord, list[ArtifactRef], dict[str, str]]


class _Batch:
    """Tasks committing in one transaction; ``done`` is set when it has run."""

    __slots__ = ("done", "errors", "items")

    def __init__(self) -> None:
        self.items: list[_Item] = []
        self.errors: list[Exception | None] = []
        self.done = anyio.Event()  # one for the batch, not one for each task


class GroupCommit:
    """Commits a run's finished tasks in groups (call :meth:`commit` on the loop)."""

    def __init__(self) -> None:
        self._running: _Batch | None = None  # in a transaction now
        self._next: _Batch | None = None  # gathering while it runs

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
        running = self._running
        if running is None:  # nothing commits now: this task commits at once, alone
            batch, leads = _Batch(), True
            self._running = batch
        else:  # the first to wait leads the next transaction
            batch, leads = self._next or _Batch(), self._next is None
            self._next = batch
        index = len(batch.items)
        batch.items.append((record, refs, logs))
        if not leads:
            await batch.done.wait()
        else:
            if running is not None:
                await running.done.wait()
                self._running, self._next = batch, None
            await self._lead(batch, datastore, fenced, limiter)
        error = batch.errors[index]
        if error is not None:
            raise error

    async def _lead(
        self, batch: _Batch, datastore: Datastore, fenced: bool, limiter: anyio.CapacityLimiter
    ) -> None:
        try:
            batch.errors = await anyio.to_thread.run_sync(
                _commit, datastore, batch.items, fenced, limiter=limiter
            )
        except BaseException as exc:  # the hop itself failed: nobody's task is committed
            error = exc if isinstance(exc, Exception) else RuntimeError("commit interrupted")
            batch.errors = [error] * len(batch.items)
            raise
        finally:
            if self._next is None:
                self._running = None
            batch.done.set()


def _commit(datastore: Datastore, items: list[_Item], fenced: bool) -> list[Exception | None]:
    """Commit ``items`` in one transaction; if that fails, each task on its own. Returns
    each task's error (None: committed)."""
    if len(items) > 1:
        try:
            datastore.commit_tasks(items, fenced=fenced)
            return [None] * len(items)
        except Exception:
            pass  # find which task fails, and commit the others
    errors: list[Exception | None] = []
    for item in items:
        try:
            datastore.commit_tasks([item], fenced=fenced)
            errors.append(None)
        except Exception as exc:
            errors.append(exc)
    return errors
