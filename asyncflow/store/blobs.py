"""Content-addressed blob storage: a key is the BLAKE3 hash of the bytes.

Writes are atomic (temporary file, then rename) and an existing key is never
rewritten. Large blobs are read back as read-only memory maps.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import blake3

from ..exceptions import CorruptedBlobError, DatastoreError

#: Blobs at least this large are memory-mapped on read instead of copied.
MMAP_THRESHOLD = 1 << 20

#: Above this many bytes the hash uses all cores (BLAKE3 is parallel by design).
PARALLEL_HASH_THRESHOLD = 8 << 20


def content_key(buffers: Sequence[Any]) -> str:
    """The hex BLAKE3 digest of the buffers written back to back."""
    total = sum(memoryview(b).nbytes for b in buffers)
    threads = blake3.blake3.AUTO if total >= PARALLEL_HASH_THRESHOLD else 1
    hasher = blake3.blake3(max_threads=threads)
    for buf in buffers:
        hasher.update(memoryview(buf).cast("B"))
    return str(hasher.hexdigest())


class BlobStore(Protocol):
    """Where artifact bytes live; an object store can stand behind it later."""

    def put(self, key: str, buffers: Sequence[Any]) -> bool:
        """Store buffers under ``key`` (their content hash); False if it already existed."""
        ...

    def get(self, key: str, *, writable: bool = False) -> memoryview:
        """The bytes of ``key``; may be a memory map, private copy-on-write if ``writable``."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    def keys(self) -> Iterator[str]:
        """Every stored key."""
        ...


class LocalBlobStore:
    """Blobs as files under ``root/ab/cdef...``, written atomically.

    ``fsync=True`` flushes each blob and its directory to disk before the
    write returns, so a committed artifact survives power loss; it costs
    about 4x on large writes and is off by default.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        return self.root / key[:2] / key[2:]

    def put(self, key: str, buffers: Sequence[Any]) -> bool:
        target = self.path(key)
        if target.exists():
            return False
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix=key[:8])
        try:
            with os.fdopen(fd, "wb", buffering=0) as f:
                for buf in buffers:
                    _write_all(f, memoryview(buf).cast("B"))
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise DatastoreError(f"cannot write blob {key} to {target}: {exc}") from exc
            raise
        if self.fsync:
            _fsync_dir(target.parent)
        return True

    def get(self, key: str, *, writable: bool = False) -> memoryview:
        target = self.path(key)
        try:
            with open(target, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < MMAP_THRESHOLD:
                    data = f.read()
                    return memoryview(bytearray(data) if writable else data)
                # A copy-on-write map lets a step change its copy in place while the
                # file, and every other reader, keeps the stored bytes.
                access = mmap.ACCESS_COPY if writable else mmap.ACCESS_READ
                return memoryview(mmap.mmap(f.fileno(), 0, access=access))
        except FileNotFoundError as exc:
            raise CorruptedBlobError(key, f"missing (expected at {target})") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for file in sorted(sub.iterdir()):
                    yield sub.name + file.name


def _write_all(f: Any, view: memoryview) -> None:
    # Unbuffered writes may be short; large buffers are written in place, never copied.
    while view.nbytes:
        written = f.write(view)
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
