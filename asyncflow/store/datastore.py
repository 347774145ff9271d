"""The datastore: blobs + metadata + the serializer registry, opened by URL."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from serializers import Registry, SerializationError, default_registry

from ..exceptions import CorruptedBlobError, DatastoreError
from .blobs import BlobStore, LocalBlobStore, content_key
from .keys import check_key
from .leases import FileLeases, Leases
from .metadata import MetadataStore, SQLiteMetadataStore, TaskCommit
from .pickling import PICKLE_HINT, pickle_allowed
from .ranged import CHUNKS_FIELD, RANGED_MIN, RangedBlob, chunk_digests
from .records import ArtifactRef, TaskRecord
from .urls import ROOT_DIRNAME, StoreLocation, StoreURLs, resolve_root, resolve_urls
from .verified import ReadVerifier

__all__ = [
    "INLINE_THRESHOLD",
    "ROOT_DIRNAME",
    "Datastore",
    "StoreLocation",
    "StoreURLs",
    "env_flag",
    "resolve_root",
]

#: Encoded values up to this size live inline in the metadata database. Measured with
#: ``benchmarks/inline_threshold.py`` (persist + commit, then load, per value): inline is
#: 2-8x faster to persist up to 32 KiB and ties at 64 KiB; from 256 KiB one file each
#: wins on both sides (4.6 ms against 1.2 ms to persist, 0.20 against 0.12 ms to load).
INLINE_THRESHOLD = 64 * 1024

_TRUE = ("1", "true", "yes", "on")


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


class Datastore:
    """Persists artifact values and loads them back; all methods block (use worker threads).

    ``root`` is where blobs go: a local directory (default: the nearest ``.asyncflow``)
    or ``s3://bucket/prefix``; ``metadata`` is a ``sqlite:///`` or ``postgresql://``
    URL (default: SQLite inside the local root). Both default to ``$ASYNCFLOW_DATASTORE``
    and ``$ASYNCFLOW_METADATA``; :attr:`urls` gives them back, resolved, for other
    processes to :meth:`open` the same stores.

    ``fsync`` (default: ``$ASYNCFLOW_FSYNC``, else off) makes every blob and
    every metadata commit durable against power loss, at about the cost of a raw
    write and fsync of the same bytes. Every load is checked against the artifact's key
    (:mod:`.verified`: small values hashed on every load, memory-mapped blobs on
    their first load in this datastore and when their file changes);
    ``verify_reads`` (default: ``$ASYNCFLOW_VERIFY_READS``, else off) hashes
    memory-mapped blobs on every load too.
    """

    def __init__(
        self,
        root: StoreLocation | None = None,
        *,
        metadata: str | None = None,
        registry: Registry | None = None,
        fsync: bool | None = None,
        verify_reads: bool | None = None,
        inline_threshold: int = INLINE_THRESHOLD,
    ) -> None:
        self.urls = resolve_urls(root, metadata)
        self.registry = registry or default_registry()
        self.inline_threshold = inline_threshold
        self.fsync = env_flag("ASYNCFLOW_FSYNC") if fsync is None else fsync
        self.verify_reads = (
            env_flag("ASYNCFLOW_VERIFY_READS") if verify_reads is None else verify_reads
        )
        self.verifier = ReadVerifier(always=self.verify_reads)
        #: The local directory of this datastore (for S3 blobs: the one SQLite would use).
        self.root = Path(self.urls.datastore) if self.urls.blobs_are_local else resolve_root()
        try:
            self.blobs: BlobStore = _open_blobs(self.urls, self.fsync)
            self.metadata: MetadataStore = _open_metadata(self.urls, self.fsync)
        except OSError as exc:
            raise DatastoreError(
                f"cannot open the datastore at {self.urls.datastore}: {exc}"
            ) from exc
        self.lease: Leases = self.metadata.leases() or _file_leases(self.urls, self.root)

    @property
    def local_blobs(self) -> LocalBlobStore:
        """The blob store, when it is a local directory (a DatastoreError otherwise)."""
        if not isinstance(self.blobs, LocalBlobStore):
            raise DatastoreError(f"the datastore {self.urls.datastore} is not a local directory")
        return self.blobs

    @classmethod
    def open(
        cls,
        url: StoreLocation | None = None,
        *,
        metadata: str | None = None,
        **options: Any,
    ) -> Datastore:
        """The datastore at ``url`` with its metadata at ``metadata`` (see the class
        docstring); ``options`` are the constructor's keyword arguments."""
        return cls(url, metadata=metadata, **options)

    @contextlib.contextmanager
    def collecting(self, *, dry_run: bool = False) -> Iterator[set[str]]:
        """Held by the garbage collector while it deletes: the keys every live writer
        claims, with new claims and local blob writes held off (a dry run changes
        nothing, not even a dead writer's lease)."""
        with contextlib.ExitStack() as stack:
            if isinstance(self.blobs, LocalBlobStore) and not self._claims_under_blob_lock():
                stack.enter_context(self.blobs.exclusive_lock())
            yield stack.enter_context(self.lease.collecting(dry_run=dry_run))

    def _claims_under_blob_lock(self) -> bool:
        """Whether this lease's lock is the local blob store's own ``.lock``."""
        return (
            isinstance(self.blobs, LocalBlobStore)
            and isinstance(self.lease, FileLeases)
            and self.lease.lock_path == self.blobs.lock_path
        )

    def commit_task(
        self,
        task: TaskRecord,
        artifacts: Sequence[ArtifactRef],
        logs: dict[str, str] | None = None,
        *,
        fenced: bool = False,
    ) -> None:
        """Commit a task (see :meth:`MetadataStore.commit_task`), then drop this
        process's lease on the blobs its artifacts now reference."""
        if fenced:
            self.metadata.commit_task(task, artifacts, logs, fenced=True)
        else:
            self.metadata.commit_task(task, artifacts, logs)
        self.lease.release(a.key for a in artifacts if not a.inline)

    def commit_tasks(self, batch: Sequence[TaskCommit], *, fenced: bool = False) -> None:
        """Commit finished tasks together (see :meth:`MetadataStore.commit_tasks`), then
        drop this process's lease on the blobs their artifacts now reference."""
        self.metadata.commit_tasks(batch, fenced=fenced)
        self.lease.release(a.key for _, artifacts, _ in batch for a in artifacts if not a.inline)

    def close(self) -> None:
        """Release the blob lease and close the metadata database."""
        self.lease.close()
        self.metadata.close()

    def persist(
        self, name: str, value: Any, *, step: str | None = None, known_key: str | None = None
    ) -> ArtifactRef:
        """Serialize ``value`` and store its bytes once, whatever name it has.

        Small values stay in memory and go inline into the metadata database at
        commit; large ones are streamed to a blob file. If the bytes hash to
        ``known_key`` (a value already stored, re-encoded to see whether it
        changed) nothing is written.
        """
        encoded = self.registry.serialize(value, artifact=name, step=step)
        size = encoded.size
        meta = dict(encoded.metadata)
        type_name = str(meta.get("type", type(value).__qualname__))
        if size <= self.inline_threshold:
            buffers = encoded.buffers
            one = len(buffers) == 1 and type(buffers[0]) is bytes
            data = buffers[0] if one else b"".join(memoryview(b).cast("B") for b in buffers)
            key = content_key([data])
            return ArtifactRef(name, key, encoded.encoding, size, type_name, meta, True, data)
        if known_key is None and isinstance(self.blobs, LocalBlobStore):
            # Hashed on the way to disk, and claimed (until a commit references it; see
            # store/leases.py) under the blob lock in the same moment it is stored: a
            # collector never sees it unclaimed, whatever the grace period.
            lease = self.lease
            under_lock = isinstance(lease, FileLeases) and self._claims_under_blob_lock()
            claim = lease.add_locked if isinstance(lease, FileLeases) and under_lock else lease.add
            key = self.blobs.write(encoded.buffers, claim=claim)
        else:
            key = content_key(encoded.buffers)  # hashed once: unchanged values write nothing
            if size >= RANGED_MIN and hasattr(self.blobs, "get_range"):
                meta[CHUNKS_FIELD] = chunk_digests(encoded.buffers)  # for verified ranged reads
            if key == known_key:
                return ArtifactRef(name, key, encoded.encoding, size, type_name, meta, False)
            # Claimed before it is stored: an object store has no mtime to refresh, so a
            # collector must already see the claim when it could find the object there.
            self.lease.add(key)
            self.blobs.put(key, encoded.buffers)
        return ArtifactRef(name, key, encoded.encoding, size, type_name, meta, False)

    def read_bytes(
        self, ref: ArtifactRef, *, pathspec: str | None = None, writable: bool = False
    ) -> memoryview:
        """The stored bytes of an artifact, checked against its key and size.

        ``writable`` gives a private copy (copy-on-write for memory maps) that the
        decoded value may be changed through without touching the store.
        """
        where = _pathspec(ref, pathspec)
        check_key(ref.key, where)  # a key from the metadata never becomes a path unchecked
        if ref.inline:
            data = ref.data if ref.data is not None else self.metadata.get_inline(ref.key)
            if data is None:
                raise CorruptedBlobError(ref.key, "missing from the metadata database", where)
            view = memoryview(bytearray(data) if writable else data)
        else:
            try:
                view = self.blobs.get(ref.key, writable=writable)
            except CorruptedBlobError as exc:
                raise CorruptedBlobError(ref.key, exc.problem, where) from exc
        # A backend without stamps (an object store: bytes already in memory) is hashed
        # on every load; local files once per process while unchanged.
        stamp_of = getattr(self.blobs, "stamp", None)
        stamp = None if ref.inline or stamp_of is None else stamp_of(ref.key)
        self.verifier.check(view, ref.key, ref.size, where, stamp)
        return view

    def load(self, ref: ArtifactRef, *, pathspec: str | None = None, writable: bool = False) -> Any:
        """Decode an artifact; a fresh object on every call (see :meth:`read_bytes`).

        The decoder is told the bytes' key: they were just verified against it, so a
        decoder that validates (Arrow IPC) may skip bytes it validated before."""
        view = self.read_bytes(ref, pathspec=pathspec, writable=writable)
        where = _pathspec(ref, pathspec)
        try:
            return self.registry.deserialize(
                ref.encoding, view, ref.metadata, artifact=where,
                allow_pickle=pickle_allowed(), pickle_hint=PICKLE_HINT, content=ref.key,
            )  # fmt: skip
        except SerializationError:
            raise
        except Exception as exc:  # a decoder choking on bytes we verified is still our error
            raise DatastoreError(f"cannot decode artifact '{where}': {exc}") from exc

    def read_columns(
        self, ref: ArtifactRef, columns: Sequence[str], *, pathspec: str | None = None
    ) -> Any:
        """Only ``columns`` of a stored table or data frame, as its kind. From an object
        store, only the bytes of those columns (and the table's headers) are fetched,
        each verified (see :mod:`.ranged`); from local files, only those pages are read."""
        reader = self._partial_reader(ref, "read_columns", "columns", pathspec)
        return self._read_part(
            ref, pathspec, lambda src: reader(src, ref.metadata, columns, content=ref.key)
        )

    def read_rows(
        self, ref: ArtifactRef, start: int, stop: int, *, pathspec: str | None = None
    ) -> Any:
        """Rows ``start`` to ``stop`` of a stored NumPy array (along its first axis),
        fetching only their bytes from an object store, verified (see :mod:`.ranged`)."""
        reader = self._partial_reader(ref, "read_rows", "rows", pathspec)
        return self._read_part(ref, pathspec, lambda src: reader(src, ref.metadata, start, stop))

    def _partial_reader(
        self, ref: ArtifactRef, method: str, what: str, pathspec: str | None
    ) -> Any:
        serializer = self.registry.get(ref.encoding)
        reader = getattr(serializer, method, None)
        if reader is None:
            raise DatastoreError(
                f"artifact '{_pathspec(ref, pathspec)}' ({ref.type}, {ref.encoding}) has no "
                f"{what} to read apart: load it whole"
            )
        return reader

    def _read_part(self, ref: ArtifactRef, pathspec: str | None, read: Any) -> Any:
        where = _pathspec(ref, pathspec)
        chunks = ref.metadata.get(CHUNKS_FIELD)
        get_range = getattr(self.blobs, "get_range", None)
        if ref.inline or chunks is None or get_range is None:
            source: Any = self.read_bytes(ref, pathspec=pathspec)  # verified whole, as a load
        else:
            check_key(ref.key, where)
            source = RangedBlob(self.blobs, ref.key, ref.size, chunks, where)  # type: ignore[arg-type]
        try:
            return read(source)
        except (CorruptedBlobError, SerializationError):
            raise
        except Exception as exc:
            damage = getattr(source, "damage", None)
            if damage is not None:  # found by our reads, wrapped by pyarrow's
                raise damage from None
            if isinstance(exc, ValueError):
                raise DatastoreError(f"artifact '{where}': {exc}") from exc
            raise DatastoreError(f"cannot read part of artifact '{where}': {exc}") from exc


def _open_blobs(urls: StoreURLs, fsync: bool) -> BlobStore:
    if urls.blobs_are_local:
        return LocalBlobStore(Path(urls.datastore) / "blobs", fsync=fsync)
    from .s3 import S3BlobStore  # obstore is an optional extra: imported only when used

    return S3BlobStore.from_url(urls.datastore)


def _open_metadata(urls: StoreURLs, fsync: bool) -> MetadataStore:
    sqlite_path = urls.sqlite_path
    if sqlite_path is not None:
        return SQLiteMetadataStore(sqlite_path, fsync=fsync)
    from .postgres import PostgresMetadataStore  # psycopg is an optional extra

    return PostgresMetadataStore(urls.metadata)


def _file_leases(urls: StoreURLs, root: Path) -> FileLeases:
    # Beside local blobs, the lock is the blob store's own, so writers and the
    # collector exclude each other with one flock.
    base = Path(urls.datastore) / "blobs" if urls.blobs_are_local else root
    return FileLeases(base / "leases", base / ".lock")


def _pathspec(ref: ArtifactRef, task_pathspec: str | None) -> str:
    """The artifact's pathspec for messages (its bare name outside a task)."""
    return f"{task_pathspec}/{ref.name}" if task_pathspec else ref.name
