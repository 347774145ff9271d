"""``--executor dask-local[:N]`` and ``dask://host:port``: tasks on Dask distributed.

One Dask task per attempt, submitted with Dask's retries off (and, for the
LocalCluster we start, the scheduler's ``allowed-failures`` at 0), so a task
whose worker dies comes back as :class:`WorkerDiedError` and is retried by
asyncflow's ``@retry``, not silently re-run by Dask. The future is bridged to the
caller's loop (asyncio or trio) by a done-callback: no thread waits on it. The
events of an attempt arrive with its outcome.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

import anyio

from ..events import Listener, _call_soon_threadsafe
from ..exceptions import ExecutorError, WorkerDiedError
from ..store.urls import StoreURLs
from .spec import AttemptOutcome, TaskSpec

__all__ = ["DaskExecutor", "is_this_machine"]


class DaskExecutor:
    """A Dask client: to the scheduler at ``address``, or to a LocalCluster it starts."""

    def __init__(self, address: str | None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self.name = f"dask://{address.split('://', 1)[-1]}" if address else "dask-local"
        self._client: Any = None
        self._cluster: Any = None

    def check_store(self, urls: StoreURLs) -> None:
        """Local stores (a directory, SQLite) need the scheduler (and so, we assume, its
        workers) on this machine."""
        local = [u for u in (urls.datastore, urls.metadata) if not _shared(u)]
        if self.address is None or not local:
            return
        host = urlsplit(self.address).hostname or ""
        if not is_this_machine(host):
            raise ExecutorError(
                f"--executor {self.name}: {' and '.join(local)} on this machine only, "
                f"and the Dask scheduler at {host} is not there; its workers could not read or "
                "commit tasks. Use a shared datastore (S3 + PostgreSQL), or a cluster "
                "running on this machine"
            )

    async def start(self) -> None:
        """Connect to the scheduler (or start the LocalCluster)."""
        await anyio.to_thread.run_sync(self._connect)

    def _connect(self) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ExecutorError(
                f"--executor {self.name} needs Dask: pip install 'asyncflow[dask]' ({exc})"
            ) from exc
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if self.address is None:
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    dashboard_address=":0", host="127.0.0.1", scheduler_port=0,
                )  # fmt: skip
                self._client = Client(self._cluster)
                return
            try:
                self._client = Client(self.address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(
                    f"cannot reach the Dask scheduler at {self.address}: {exc}"
                ) from exc

    async def submit(self, spec: TaskSpec, on_event: Listener) -> AttemptOutcome:
        """Run one attempt as one Dask task; cancelling the call cancels the future."""
        from .worker import run_spec

        key = f"asyncflow-{spec.pathspec.replace('/', '-')}-{spec.attempt}-{uuid.uuid4().hex[:8]}"
        future = self._client.submit(run_spec, spec, key=key, pure=False, retries=0)
        done = anyio.Event()
        call_soon = _call_soon_threadsafe()
        future.add_done_callback(lambda _: call_soon(done.set))
        try:
            await done.wait()
        except BaseException:
            future.cancel()
            raise
        return await anyio.to_thread.run_sync(_result, future, spec)

    async def aclose(self) -> None:
        """Close the client (and the LocalCluster, if this executor started it)."""
        await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None


def _result(future: Any, spec: TaskSpec) -> AttemptOutcome:
    from distributed import KilledWorker

    try:
        outcome: AttemptOutcome = future.result()
    except KilledWorker as exc:
        died = WorkerDiedError(spec.pathspec, f"was lost with its Dask worker ({exc})")
        formatted = f"{type(died).__name__}: {died}\n"
        return AttemptOutcome.failed(died, formatted, {"stdout": "", "stderr": formatted}, [])
    return outcome


def _shared(url: str) -> bool:
    """Whether a store URL can be reached from other machines (S3, PostgreSQL over TCP)."""
    parts = urlsplit(url)
    return parts.scheme == "s3" or (
        parts.scheme.startswith("postgres") and not is_this_machine(parts.hostname or "")
    )


def is_this_machine(host: str) -> bool:
    """Whether ``host`` names this machine (a loopback address, its name or its address)."""
    if host in ("localhost", "127.0.0.1", "::1", "") or host.startswith("127."):
        return True
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return host in names
