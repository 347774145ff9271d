"""Finding things in a datastore: the shared client datastore, pathspecs, the base of
every client object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ..exceptions import PATHSPEC_PARTS, NotFoundError, PathspecError
from ..store import Datastore, RunRecord, StoreLocation, StoreURLs, resolve_urls
from ..wording import a_type, plural
from ._namespaces import check_namespace

__all__ = [
    "ClientObject",
    "get_datastore",
    "has_runs",
    "in_thread",
    "int_id",
    "load_run",
    "parse_pathspec",
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


def get_datastore(
    root: StoreLocation | None = None, wanted: tuple[str, str] | None = None
) -> Datastore:
    """The shared client-side datastore at ``root`` (see :func:`resolve_urls`).

    Where no flow has run yet, the error names ``wanted`` (``("flow", "MyFlow")``: what
    the caller looks for) as well as the datastore.
    """
    urls = resolve_urls(root)
    with _stores_lock:
        if urls not in _stores:
            if not has_runs(urls):
                if wanted is None:
                    raise NotFoundError("datastore", str(urls), hint="; no flow has run here yet")
                kind, pathspec = wanted
                hint = f": no flow has run in the datastore {urls} yet"
                raise NotFoundError(kind, pathspec, hint=hint)
            _stores[urls] = Datastore(urls)
        return _stores[urls]


def has_runs(urls: StoreURLs) -> bool:
    """Whether a flow may have run there (False if its SQLite database does not exist)."""
    sqlite_path = urls.sqlite_path
    return sqlite_path is None or sqlite_path.exists()


def split_pathspec(pathspec: str, parts: int, kind: str) -> list[str]:
    """The parts of ``pathspec``, which must be a pathspec of exactly ``parts`` parts."""
    return parse_pathspec(pathspec, kind, parts)


def parse_pathspec(text: object, kind: str | None = None, parts: int | None = None) -> list[str]:
    """The parts of a pathspec (``Flow/3/start/1``); raise :class:`PathspecError` saying
    what is wrong with ``text`` otherwise (``parts``: how many it must have)."""
    if not isinstance(text, str):
        raise PathspecError(text, f"it is {a_type(text)}, not a string", kind)
    if not text:
        raise PathspecError(text, "it is empty", kind)
    pieces = text.split("/")
    limit = parts or len(PATHSPEC_PARTS)
    if len(pieces) > limit or (parts is not None and len(pieces) < parts):
        raise PathspecError(text, f"it has {plural(len(pieces), 'part')}, not {limit}", kind)
    for index, piece in enumerate(pieces):
        name = PATHSPEC_PARTS[index]
        if not piece:
            raise PathspecError(text, f"its {name} part is empty", kind)
        numeric = name.endswith("_ID")
        if numeric and not (piece.isascii() and piece.isdigit()):
            raise PathspecError(text, f"its {name} {piece!r} is not a number", kind)
        if not numeric and not piece.isidentifier():
            raise PathspecError(text, f"its {name} {piece!r} is not a Python name", kind)
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

    def _urls(self) -> StoreURLs:
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as pathspec and store (an artifact may hold a client object, as
        # current.task); read back whatever namespace the reader is in, as in Metaflow
        return (_restore, (type(self), self.pathspec, self._urls()))

    @classmethod
    def _restore(cls, pathspec: str, urls: StoreURLs) -> ClientObject:
        return cls(pathspec, root=urls, _namespace_check=False)  # type: ignore[call-arg]

    @property
    def path_components(self) -> list[str]:
        """The parts of the pathspec: ``["Flow", "3", "start", "1"]``."""
        return self.pathspec.split("/")


def _restore(cls: type[ClientObject], pathspec: str, urls: StoreURLs) -> ClientObject:
    """Unpickle a client object (see :meth:`ClientObject.__reduce__`)."""
    return cls._restore(pathspec, urls)
