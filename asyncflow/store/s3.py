"""Blobs in an S3-compatible object store (``s3://bucket/prefix``), through obstore.

Objects live under ``prefix/blobs/ab/cdef...`` like the local store's files. The key is
the BLAKE3 hash of the bytes, computed before the upload (the datastore must claim a
key in its lease before the object can appear, see :mod:`.leases`; in memory that pass
costs ~0.1 s per GiB against ~14 s to upload it to a local SeaweedFS).

Writes never replace an object: a value up to :data:`SINGLE_PUT_LIMIT` (S3's largest
PUT, 5 GiB) is one create-only PUT (``If-None-Match: *``; "already exists" means the same
bytes are there, or another writer won a race to store them). The body is the encoder's
own buffers in slices, handed to obstore uncopied (it sends them as they are), so a value
is never joined or buffered whole a second time. A large value is looked up first (HEAD),
so bytes already stored are not sent again. A value beyond 5 GiB goes up in parts
(obstore 0.12 cannot make a multipart upload create-only): two writers racing on such a
key both upload, and whichever completes last leaves the same bytes, as the key is their
hash.

Credentials, region and endpoint come from the usual ``AWS_*`` variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``).
obstore rather than boto3: measured here against SeaweedFS it used half the client
CPU per GiB (``../SCALE-OUT.md``), and it does create-only puts and ranged reads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError
from obstore.store import S3Store

from ..exceptions import CorruptedBlobError, DatastoreError
from .blobs import CHUNK, BlobInfo, content_key
from .faults import fault_point
from .keys import check_key, is_key

__all__ = ["LOOK_FIRST", "PART_SIZE", "SINGLE_PUT_LIMIT", "S3BlobStore"]

#: Values up to this size go up in one create-only PUT (S3's limit for one PUT).
SINGLE_PUT_LIMIT = 5 << 30

#: Values above this size are looked up before they are sent.
LOOK_FIRST = 8 << 20

#: The size of each part of a multipart upload (S3's minimum is 5 MiB).
PART_SIZE = 8 << 20


#: How long one request may take (a whole value can be one request).
REQUEST_TIMEOUT = "600s"

#: What obstore raises for an absent object (its own class, or the builtin one).
_MISSING = (NotFoundError, FileNotFoundError)


class S3BlobStore:
    """Content-addressed blobs under ``prefix/blobs/`` of a bucket."""

    def __init__(self, bucket: str, prefix: str = "", *, store: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._store = store if store is not None else _s3_store(bucket)
        self._base = f"{self.prefix}/blobs/" if self.prefix else "blobs/"

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        """The store for ``s3://bucket/prefix``."""
        parts = urlsplit(url)
        return cls(parts.netloc, parts.path)

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self._base}{key[:2]}/{key[2:]}"

    def where(self, key: str) -> str:
        """The object's URL."""
        return f"s3://{self.bucket}/{self._path(key)}"

    def write(self, buffers: Sequence[Any]) -> str:
        """Store the buffers under their hash; return the key."""
        key = content_key(buffers)
        self.put(key, buffers)
        return key

    def put(self, key: str, buffers: Sequence[Any]) -> bool:
        """Store ``buffers`` under ``key`` unless it exists; False if it already did."""
        path = self._path(key)
        views = [memoryview(b).cast("B") for b in buffers]
        total = sum(v.nbytes for v in views)
        if total > LOOK_FIRST and self.exists(key):
            return False
        with self._errors(f"write blob {key} to"):
            try:
                if total <= SINGLE_PUT_LIMIT:
                    obstore.put(
                        self._store, path, _parts(views), mode="create", use_multipart=False
                    )
                else:
                    obstore.put(
                        self._store, path, _parts(views), chunk_size=PART_SIZE, max_concurrency=4
                    )
            except (AlreadyExistsError, PreconditionError):
                return False
        return True

    def get(self, key: str, *, writable: bool = False) -> memoryview:
        """The bytes of ``key``, read whole (a private copy if ``writable``)."""
        path = self._path(key)
        with self._errors(f"read blob {key} from"):
            try:
                data = obstore.get(self._store, path).bytes()
            except _MISSING as exc:
                raise CorruptedBlobError(key, f"missing (expected at {self.where(key)})") from exc
        return memoryview(bytearray(data)) if writable else memoryview(data)

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        """Bytes ``start`` to ``end`` of ``key`` (for readers that need part of a value)."""
        path = self._path(key)
        with self._errors(f"read part of blob {key} from"):
            try:
                return memoryview(obstore.get_range(self._store, path, start=start, end=end))
            except _MISSING as exc:
                raise CorruptedBlobError(key, f"missing (expected at {self.where(key)})") from exc

    def stat(self, key: str) -> BlobInfo | None:
        """Size and last-modified time of ``key``, or None."""
        path = self._path(key)
        with self._errors(f"look up blob {key} in"):
            try:
                meta = obstore.head(self._store, path)
            except _MISSING:
                return None
        return BlobInfo(key, int(meta["size"]), _timestamp(meta["last_modified"]))

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self.stat(key) is not None

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        path = self._path(key)
        with self._errors(f"delete blob {key} from"):
            obstore.delete(self._store, path)

    def keys(self) -> Iterator[str]:
        """Every stored key, in order."""
        for info in self.scan():
            yield info.key

    def scan(self) -> Iterator[BlobInfo]:
        """Every stored blob with its size and last-modified time, in key order.

        Objects under ``blobs/`` whose name is not a key (nothing asyncflow wrote)
        are skipped, never deleted.
        """
        found: list[BlobInfo] = []
        with self._errors("list the blobs of"):
            for batch in obstore.list(self._store, prefix=self._base, chunk_size=1000):
                for meta in batch:
                    key = meta["path"][len(self._base) :].replace("/", "", 1)
                    if is_key(key) and meta["path"] == self._path(key):
                        info = BlobInfo(key, meta["size"], _timestamp(meta["last_modified"]))
                        found.append(info)
        yield from sorted(found, key=lambda b: b.key)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """The object store's failures (refused credentials, an unreachable endpoint) as a
        :class:`DatastoreError` naming this store; asyncflow's own errors pass through."""
        try:
            yield
        except DatastoreError:
            raise
        except Exception as exc:
            # obstore appends a multi-line debug dump of the request: its first line is enough
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatastoreError(f"cannot {doing} {self.url}: {reason}") from exc

    def clean_temp(self, cutoff: float) -> int:
        """Nothing to clean: an interrupted upload never becomes an object (the
        bucket's lifecycle rule for incomplete multipart uploads reclaims its parts)."""
        return 0


def _s3_store(bucket: str) -> Any:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    # One request may carry a whole value (a create-only PUT, a GET of up to 5 GiB): give
    # it ten minutes rather than the client's 30 s, which a loaded machine misses at 1 GiB.
    options: dict[str, Any] = {"timeout": REQUEST_TIMEOUT}
    config: dict[str, Any] = {}
    if endpoint:
        config["endpoint"] = endpoint
        options["allow_http"] = endpoint.startswith("http://")
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        config["region"] = "us-east-1"
    return S3Store(bucket, config=config, client_options=options)  # type: ignore[arg-type]


def _parts(views: Sequence[memoryview]) -> Iterator[memoryview]:
    """The buffers in slices of at most :data:`CHUNK` bytes, without copying."""
    for view in views:
        for start in range(0, view.nbytes, CHUNK):
            fault_point("blob-write")
            yield view[start : start + CHUNK]


def _timestamp(when: datetime) -> float:
    return when.timestamp()
