"""Content-addressed blob storage: a key is the BLAKE3 hash of the bytes.

Writes stream the buffers to a temporary file while hashing them, then rename
the file to its key; an existing key is never rewritten. Large blobs are read
back as read-only memory maps.

BLAKE3 rather than SHA-256: it is collision-resistant like SHA-256 and about
three times as fast on one core here (``benchmarks/hash_choice.py``: 256 MiB in
82 ms against 285 ms), and hashing is on every artifact's write path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import mmap
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import blake3

from ..exceptions import CorruptedBlobError, DatastoreError
from .faults import fault_point
from .keys import check_key, is_key
from .modes import blob_mode, make_subdir, open_file

__all__ = [
    "CHUNK",
    "MMAP_THRESHOLD",
    "OVERLAP_THRESHOLD",
    "PARALLEL_HASH_THRESHOLD",
    "BlobInfo",
    "BlobStore",
    "LocalBlobStore",
    "content_key",
]

#: Blobs at least this large are memory-mapped on read instead of copied.
MMAP_THRESHOLD = 1 << 20

#: Above this many bytes the hash uses all cores (BLAKE3 is parallel by design).
PARALLEL_HASH_THRESHOLD = 8 << 20

#: From this many bytes a blob's chunks are hashed in a second thread while written.
OVERLAP_THRESHOLD = 16 << 20

#: Writes hash and write this much at a time, so each chunk is hashed while still in cache.
CHUNK = 4 << 20


def content_key(buffers: Sequence[Any]) -> str:
    """The hex BLAKE3 digest of the buffers written back to back."""
    if len(buffers) == 1 and type(buffers[0]) is bytes and len(buffers[0]) < (1 << 16):
        return str(blake3.blake3(buffers[0]).hexdigest())  # a small value: one call
    total = sum(memoryview(b).nbytes for b in buffers)
    hasher = _hasher(total)
    for buf in buffers:
        hasher.update(memoryview(buf).cast("B"))
    return str(hasher.hexdigest())


def _hasher(total: int) -> Any:
    threads = blake3.blake3.AUTO if total >= PARALLEL_HASH_THRESHOLD else 1
    return blake3.blake3(max_threads=threads)


@dataclass(frozen=True)
class BlobInfo:
    """One stored blob as listed by :meth:`LocalBlobStore.scan`."""

    key: str
    size: int
    mtime: float


class BlobStore(Protocol):
    """Where artifact bytes live: local files or an S3-compatible object store."""

    def write(self, buffers: Sequence[Any]) -> str:
        """Store the buffers back to back under their content hash; return the key."""
        ...

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

    def scan(self) -> Iterator[BlobInfo]:
        """Every stored blob with its size and modification time, in key order."""
        ...

    def stat(self, key: str) -> BlobInfo | None:
        """Size and modification time of ``key``, or None if absent."""
        ...

    def where(self, key: str) -> str:
        """Where ``key`` is (or would be) stored, for messages."""
        ...

    def clean_temp(self, cutoff: float) -> int:
        """Remove what writers that died mid-write left before ``cutoff``; how many."""
        ...


class LocalBlobStore:
    """Blobs as files under ``root/ab/cdef...``, written atomically.

    ``fsync=True`` flushes each blob and its directory to disk before the
    write returns, so a committed artifact survives power loss; it is off by
    default. A large blob is sent to the disk chunk by chunk while it is written
    (:class:`_Flusher`), so it costs about the raw write and fsync of its bytes.

    Writers and the garbage collector coordinate through ``root/.lock``:
    creating a temporary file, storing a blob (or refreshing the mtime of one
    that already exists) and claiming it hold the lock shared; the collector
    holds it exclusive. ``write(buffers, claim=...)`` calls ``claim(key)`` under
    that lock once ``key`` is stored, so a writer's lease learns the key before
    any collector can see the blob unclaimed. Each temporary file is ``flock``-ed
    by its writer for its whole life, so the collector can tell a live writer's
    from a dead one's. See :mod:`asyncflow.store.maintenance`.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self._durable_fan_outs: set[str] = set()  # fan-out directories whose name is fsynced
        self._tmp = self.root / "tmp"
        self.lock_path = self.root / ".lock"
        try:
            if not self.root.parent.exists():
                self.root.parent.mkdir(parents=True)
            make_subdir(self.root)
            make_subdir(self._tmp)
        except PermissionError:
            if not self.root.is_dir():
                raise
            # A store shared read-only with this user: reading needs no directory of ours.
        self._blob_mode = blob_mode(self.root)

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (a well-formed key, else :class:`DatastoreError`)."""
        check_key(key)
        return self.root / key[:2] / key[2:]

    def write(self, buffers: Sequence[Any], *, claim: Callable[[str], None] | None = None) -> str:
        """Stream ``buffers`` to disk, hashing them on the way; return their key.

        Nothing is copied whole in memory. If the key already exists the new
        file is dropped and the old one's mtime refreshed, which tells the
        garbage collector that a task is about to reference it. ``claim(key)`` is
        called under the shared lock, in the same moment the blob is stored.
        """
        total = sum(memoryview(b).nbytes for b in buffers)
        with self._temp_file("blob") as (f, tmp), _chunk_hasher(total) as hash_while:
            flush = _Flusher(f.fileno()) if self.fsync and total > CHUNK else None
            for buf in buffers:
                for chunk in _chunks(memoryview(buf).cast("B")):
                    with hash_while(chunk):
                        _write_all(f, chunk)
                    if flush is not None:
                        flush.wrote(chunk.nbytes)
                    fault_point("blob-write")
            key = hash_while.hexdigest()
            self._finish(f, tmp, key, claim)
        return key

    def put(self, key: str, buffers: Sequence[Any]) -> bool:
        """Store buffers under ``key``; False (and a refreshed mtime) if it existed."""
        if self.touch(key):
            return False
        with self._temp_file(key[:8]) as (f, tmp):
            for buf in buffers:
                _write_all(f, memoryview(buf).cast("B"))
            return self._finish(f, tmp, key)

    @contextlib.contextmanager
    def _temp_file(self, prefix: str) -> Iterator[tuple[Any, str]]:
        import tempfile  # writers only: readers do not pay for it

        with self.shared_lock():  # the collector never sees it before it is locked
            fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix=prefix)
            fcntl.flock(fd, fcntl.LOCK_EX)  # held until closed: a live writer's file
        try:
            with os.fdopen(fd, "wb", buffering=0) as f:
                yield f, tmp
        except OSError as exc:
            full = "the disk is full: " if exc.errno == errno.ENOSPC else ""
            raise DatastoreError(f"{full}cannot write a blob under {self.root}: {exc}") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _finish(
        self, f: Any, tmp: str, key: str, claim: Callable[[str], None] | None = None
    ) -> bool:
        """Move a complete temporary file to ``key`` unless it exists; True if it moved."""
        fault_point("blob-rename")
        if self.fsync:
            os.fsync(f.fileno())
        target = self.path(key)
        with self.shared_lock():
            if _touch(target):
                if claim is not None:
                    claim(key)
                return False
            make_subdir(target.parent)
            os.fchmod(f.fileno(), self._blob_mode)  # read-only once written: see modes.py
            os.replace(tmp, target)
            if claim is not None:
                claim(key)
        if self.fsync:
            _fsync_dir(target.parent)
            if key[:2] not in self._durable_fan_outs:
                # Its own name must survive too, even when another process made it and
                # has not fsynced the root yet: once per fan-out directory and process.
                _fsync_dir(self.root)
                self._durable_fan_outs.add(key[:2])
        return True

    def touch(self, key: str) -> bool:
        """Refresh the mtime of ``key`` so a running gc keeps it; False if absent."""
        with self.shared_lock():
            return _touch(self.path(key))

    def get(self, key: str, *, writable: bool = False) -> memoryview:
        """The bytes of ``key``: a copy if small, else a memory map (copy-on-write if
        ``writable``)."""
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
        """Whether ``key`` is stored."""
        return self.path(key).exists()

    def stamp(self, key: str) -> tuple[int, int, int] | None:
        """``(inode, size, mtime_ns)`` of the file of ``key``, or None if it is missing;
        the datastore hashes a large blob again when this changes."""
        try:
            st = os.stat(self.path(key))
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def stat(self, key: str) -> BlobInfo | None:
        """Size and mtime of ``key``, or None if absent (or not a regular file: a
        symlink planted in the store is never followed)."""
        try:
            st = os.lstat(self.path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return BlobInfo(key, st.st_size, st.st_mtime) if stat.S_ISREG(st.st_mode) else None

    def where(self, key: str) -> str:
        """The file that holds (or would hold) ``key``."""
        return str(self.path(key))

    def clean_temp(self, cutoff: float) -> int:
        """Remove temporary files of writers that died mid-write: unlocked (their
        writer is gone) and older than ``cutoff``. Symlinks and directories are left."""
        try:
            if not stat.S_ISDIR(os.lstat(self._tmp).st_mode):
                return 0  # a symlink planted in its place: not ours to clean
        except FileNotFoundError:
            return 0
        removed = 0
        for entry in _entries(self._tmp):
            if entry.is_file(follow_symlinks=False) and _remove_dead_temp(Path(entry.path), cutoff):
                removed += 1
        return removed

    def delete(self, key: str) -> None:
        """Remove ``key`` if present; never follows a symlinked fan-out directory."""
        check_key(key)
        try:
            fd = os.open(self.root / key[:2], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return  # no such directory, or a symlink planted in its place: not ours
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(key[2:], dir_fd=fd)
        finally:
            os.close(fd)

    def keys(self) -> Iterator[str]:
        """Every stored key, in order."""
        for info in self.scan():
            yield info.key

    def scan(self) -> Iterator[BlobInfo]:
        """Every stored blob with its size and mtime, in key order.

        Only regular files named like keys, in real fan-out directories, count:
        symlinks and strangers planted in the store are never listed (so never deleted).
        """
        for sub in _entries(self.root):
            if len(sub.name) == 2 and sub.is_dir(follow_symlinks=False):
                for file in _entries(Path(sub.path)):
                    key = sub.name + file.name
                    if is_key(key) and file.is_file(follow_symlinks=False):
                        with contextlib.suppress(FileNotFoundError):
                            st = file.stat(follow_symlinks=False)
                            yield BlobInfo(key, st.st_size, st.st_mtime)

    @contextlib.contextmanager
    def shared_lock(self) -> Iterator[None]:
        """Held while a blob is stored or touched; many holders at once."""
        with self._flock(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def exclusive_lock(self) -> Iterator[None]:
        """Held by the garbage collector while it deletes; excludes every writer."""
        with self._flock(fcntl.LOCK_EX):
            yield

    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        fd = open_file(self.lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _touch(target: Path) -> bool:
    try:
        os.utime(target)
    except FileNotFoundError:
        return False
    except PermissionError:
        return target.exists()  # a read-only store shared with us: present is enough
    return True


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    with os.scandir(directory) as it:
        return sorted(it, key=lambda e: e.name)


def _remove_dead_temp(path: Path, cutoff: float) -> bool:
    """Unlink ``path`` if no writer holds it and it is older than ``cutoff``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if os.fstat(fd).st_mtime > cutoff:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


class _ChunkHasher:
    """Hashes each chunk while it is written: ``with hash_while(chunk): write(chunk)``.

    From :data:`OVERLAP_THRESHOLD` bytes the hash runs in a second thread (BLAKE3
    releases the GIL), on the same chunk as the write, so it is still in cache and a
    large write costs about the write alone; below it, in this thread, first.
    """

    def __init__(self, total: int) -> None:
        self._overlap = total >= OVERLAP_THRESHOLD
        # one hashing thread beside the writing one, rather than all cores against it
        self._hasher = blake3.blake3() if self._overlap else _hasher(total)
        self._pool: Any = None
        if self._overlap:
            from concurrent.futures import ThreadPoolExecutor  # large writes only

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="asyncflow-hash")

    @contextlib.contextmanager
    def __call__(self, chunk: memoryview) -> Iterator[None]:
        if self._pool is None:
            self._hasher.update(chunk)
            yield
            return
        hashed = self._pool.submit(self._hasher.update, chunk)
        try:
            yield
        finally:
            hashed.result()  # never more than one chunk ahead, never left running

    def hexdigest(self) -> str:
        return str(self._hasher.hexdigest())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


@contextlib.contextmanager
def _chunk_hasher(total: int) -> Iterator[_ChunkHasher]:
    hasher = _ChunkHasher(total)
    try:
        yield hasher
    finally:
        hasher.close()


class _Flusher:
    """Sends each written chunk to the disk at once, so the final fsync has little left.

    Without it, the kernel keeps a large blob's pages dirty until the fsync, which then
    writes them all while the writer waits: write time plus disk time. With it, the disk
    writes chunk ``n`` while chunk ``n + 1`` is hashed and copied. ``sync_file_range``
    promises no durability (no metadata, no disk cache flush): the fsync still does.
    Linux only; elsewhere (or on a file system that refuses it) it does nothing.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._done = 0
        self._call = _sync_file_range()

    def wrote(self, nbytes: int) -> None:
        """Start writing back the ``nbytes`` written after the previous call."""
        start, self._done = self._done, self._done + nbytes
        if self._call is None:
            return
        if self._call(self._fd, start, nbytes, _SYNC_FILE_RANGE_WRITE) != 0:
            self._call = None  # refused here: the fsync at the end does it all


#: ``SYNC_FILE_RANGE_WRITE`` from ``<fcntl.h>``: start writeback of dirty pages, no wait.
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (it releases the GIL), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # large fsync-ed writes only

    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def _chunks(view: memoryview) -> Iterator[memoryview]:
    for start in range(0, view.nbytes, CHUNK):
        yield view[start : start + CHUNK]


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
