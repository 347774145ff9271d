"""``--executor ray://host:port`` and ``ray-local[:N]``: tasks on Ray.

One Ray task per attempt with Ray's retries off (``max_retries=0``), so a task
whose worker died comes back as :class:`WorkerDiedError` and is retried by
asyncflow's ``@retry``; cancelling an attempt force-cancels its task (Ray ends
the worker process). The object ref is bridged to the caller's loop (asyncio or
trio) by a done-callback on its future. Events arrive with the outcome.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import anyio

from ..events import Listener, _call_soon_threadsafe
from ..exceptions import ExecutorError, WorkerDiedError
from ..store.urls import StoreURLs
from .dask import _shared, is_this_machine
from .spec import AttemptOutcome, TaskSpec

__all__ = ["RayExecutor"]


class RayExecutor:
    """A Ray driver: connected to ``address`` (``ray://host:port``) or to a local Ray."""

    def __init__(self, address: str | None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self.name = address or f"ray-local:{self.workers}"
        self._remote: Any = None

    def check_store(self, urls: StoreURLs) -> None:
        """Local stores (a directory, SQLite) need the Ray cluster on this machine."""
        local = [u for u in (urls.datastore, urls.metadata) if not _shared(u)]
        host = urlsplit(self.address).hostname or "" if self.address else ""
        if self.address is None or not local or is_this_machine(host):
            return
        raise ExecutorError(
            f"--executor {self.name}: {' and '.join(local)} on this machine only, and the "
            f"Ray cluster at {host} is not there; use a shared datastore (S3 + PostgreSQL), "
            "or a cluster running on this machine"
        )

    async def start(self) -> None:
        """Connect to Ray (or start a local one)."""
        await anyio.to_thread.run_sync(self._connect)

    def _connect(self) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ExecutorError(
                f"--executor {self.name} needs Ray: pip install 'asyncflow[ray]' ({exc})"
            ) from exc
        from .worker import run_spec

        try:
            if self.address is None:
                ray.init(num_cpus=self.workers, include_dashboard=False, ignore_reinit_error=True,
                         log_to_driver=False)  # fmt: skip
            else:
                ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ...
            raise ExecutorError(f"cannot reach Ray at {self.name}: {exc}") from exc
        self._remote = ray.remote(max_retries=0, retry_exceptions=False, num_cpus=1)(run_spec)

    async def submit(self, spec: TaskSpec, on_event: Listener) -> AttemptOutcome:
        """Run one attempt as one Ray task; cancelling the call cancels the task."""
        import ray

        ref = self._remote.remote(spec)
        done = anyio.Event()
        call_soon = _call_soon_threadsafe()
        ref.future().add_done_callback(lambda _: call_soon(done.set))
        try:
            await done.wait()
        except BaseException:
            ray.cancel(ref, force=True)
            raise
        return await anyio.to_thread.run_sync(_result, ref, spec)

    async def aclose(self) -> None:
        """Disconnect from Ray (a local Ray started here stops)."""
        import ray

        await anyio.to_thread.run_sync(ray.shutdown)


def _result(ref: Any, spec: TaskSpec) -> AttemptOutcome:
    import ray
    from ray.exceptions import WorkerCrashedError

    try:
        outcome: AttemptOutcome = ray.get(ref)
    except WorkerCrashedError as exc:
        died = WorkerDiedError(spec.pathspec, f"was lost with its Ray worker ({exc})")
        formatted = f"{type(died).__name__}: {died}\n"
        return AttemptOutcome.failed(died, formatted, {"stdout": "", "stderr": formatted}, [])
    return outcome
