"""Finding things in a datastore: the shared client datastore, pathspecs, the base of
every client object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ..exceptions import NotFoundError
from ..store import Datastore, RunRecord, StoreLocation, StoreURLs, resolve_urls
from ._namespaces import check_namespace

__all__ = [
    "ClientObject",
    "get_datastore",
    "has_runs",
    "in_thread",
    "int_id",
    "load_run",
    "split_pathspec",
    "timestamp",
]

T = TypeVar("T")

#: One datastore per location for every client object of the process.
_stores: dict[StoreURLs, Datastore] = {}
_stores_lock = threading.Lock()


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking client expression in a worker thread, so the loop stays free."""
    import anyio.to_thread  # only callers on an event loop pay for anyio

    return await anyio.to_thread.run_sync(fn)


def get_datastore(root: StoreLocation | None = None) -> Datastore:
    """The shared client-side datastore at ``root`` (see :func:`resolve_urls`)."""
    urls = resolve_urls(root)
    with _stores_lock:
        if urls not in _stores:
            if not has_runs(urls):
                raise NotFoundError("datastore", str(urls), hint="; no flow has run here yet")
            _stores[urls] = Datastore(urls)
        return _stores[urls]


def has_runs(urls: StoreURLs) -> bool:
    """Whether a flow may have run there (False if its SQLite database does not exist)."""
    sqlite_path = urls.sqlite_path
    return sqlite_path is None or sqlite_path.exists()


def split_pathspec(pathspec: str, parts: int, kind: str) -> list[str]:
    """The parts of ``pathspec``, which must have exactly ``parts`` non-empty ones."""
    pieces = pathspec.split("/")
    if len(pieces) != parts or not all(pieces):
        raise NotFoundError(kind, pathspec, hint=f"; expected {parts} parts separated by '/'")
    return pieces


def int_id(pathspec: str, text: str, kind: str) -> int:
    """A run or task id from its text; not a number means no such ``kind``."""
    if not text.isdigit():
        raise NotFoundError(kind, pathspec)
    return int(text)


def load_run(store: Datastore, pathspec: str, kind: str, check: bool) -> RunRecord:
    """The run ``pathspec`` lies in; a missing run is named as the run, whatever ``kind``."""
    flow, run_id = pathspec.split("/")[:2]
    run_pathspec = f"{flow}/{run_id}"
    record = store.metadata.get_run(flow, int_id(run_pathspec, run_id, "run"))
    if record is None:
        raise NotFoundError("run", run_pathspec)
    if check:
        check_namespace(record, kind, pathspec)
    return record


def timestamp(ts: float | None) -> datetime | None:
    """A stored time as a datetime (None stays None)."""
    return datetime.fromtimestamp(ts) if ts is not None else None


class ClientObject:
    """What every client object has: ``id``, ``pathspec``, equality by pathspec."""

    id: str
    pathspec: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))

    @property
    def path_components(self) -> list[str]:
        """The parts of the pathspec: ``["Flow", "3", "start", "1"]``."""
        return self.pathspec.split("/")
