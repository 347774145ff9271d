"""Group commit: the tasks that finish while one transaction runs share the next one.

A trivial task costs a fraction of a SQLite commit and of a worker-thread hop. A run's
commits go to one thread of their own: a task finishing while it is idle wakes it and
commits at once; tasks finishing while a transaction runs gather, and the thread commits
them together as soon as that one is done, without being woken again. A task is still
visible only once committed, each transaction is all-or-nothing, so a crash never shows
half a task, and each task waits for its own transaction before it returns. A batch that
fails is retried task by task, so one bad task (a stale attempt, a full disk) fails only
itself. The thread ends after a second with nothing to commit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import anyio

from ..events import _call_soon_threadsafe
from ..store import ArtifactRef, Datastore, TaskRecord

__all__ = ["GroupCommit"]

_Item = tuple[TaskRecord, list[ArtifactRef], dict[str, str]]

#: Seconds the commit thread waits for more work before it ends.
LINGER = 1.0


class _Batch:
    """Tasks committing in one transaction; ``done`` is set on the loop once it has run."""

    __slots__ = ("call_soon", "datastore", "done", "errors", "fenced", "items")

    def __init__(self, datastore: Datastore, fenced: bool) -> None:
        self.datastore, self.fenced = datastore, fenced
        self.items: list[_Item] = []
        self.errors: list[Exception | None] = []
        self.done = anyio.Event()  # one for the batch, not one for each task
        self.call_soon = _call_soon_threadsafe()  # how the thread reaches this loop


class GroupCommit:
    """Commits a run's finished tasks in groups (call :meth:`commit` on the loop); a
    commit begun is finished, whatever cancels the task that waits for it.

    Every call passes the run's datastore and fencing; a group commits with its first's.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._gathering: _Batch | None = None
        self._thread: threading.Thread | None = None
        self._idle = False

    async def commit(
        self,
        datastore: Datastore,
        record: TaskRecord,
        refs: list[ArtifactRef],
        logs: dict[str, str],
        *,
        fenced: bool,
        committed_anyway: Callable[[], None] | None = None,
    ) -> None:
        """Return once this task is committed; raise what its own commit raised.

        Cancelled meanwhile, it still waits for its transaction, calls
        ``committed_anyway`` if that committed it (to report the task done), and then
        lets the cancellation go on.
        """
        with self._lock:
            batch = self._gathering
            if batch is None:
                batch = self._gathering = _Batch(datastore, fenced)
            index = len(batch.items)
            batch.items.append((record, refs, logs))
            start = self._thread is None
            if start:
                self._thread = threading.Thread(
                    target=self._serve, name="asyncflow-commits", daemon=True
                )
            elif self._idle:
                self._idle = False
                self._lock.notify()
        if start:
            self._start()
        try:
            await batch.done.wait()
        except BaseException:  # cancelled: the cancellation goes on once the commit is done
            with anyio.CancelScope(shield=True):  # (a shield only now: it costs every task)
                await batch.done.wait()
            if batch.errors[index] is None and committed_anyway is not None:
                committed_anyway()
            raise
        error = batch.errors[index]
        if error is not None:
            raise error

    def _start(self) -> None:
        """Start the commit thread; if it cannot start, fail what gathered for it."""
        assert self._thread is not None
        try:
            self._thread.start()
        except Exception as exc:  # no thread to be had (RuntimeError: can't start a thread)
            with self._lock:
                self._thread, batch, self._gathering = None, self._gathering, None
            if batch is not None:
                batch.errors = [exc] * len(batch.items)
                batch.done.set()

    def _serve(self) -> None:
        """The commit thread: commit what gathered, until idle for :data:`LINGER`."""
        while True:
            with self._lock:
                if self._gathering is None:
                    self._idle = True
                    self._lock.wait(LINGER)
                    if self._gathering is None:  # nothing came: end (the next commit starts one)
                        self._thread, self._idle = None, False
                        return
                batch, self._gathering = self._gathering, None
            try:
                batch.errors = _commit(batch.datastore, batch.items, batch.fenced)
            except BaseException as exc:  # not the store's: its tasks fail, the thread goes on
                error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
                batch.errors = [error] * len(batch.items)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                batch.call_soon(batch.done.set)


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
