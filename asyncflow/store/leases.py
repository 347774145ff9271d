"""Leases: a process's claim on blobs it wrote but has not committed yet.

Each :class:`BlobLease` owns one file under ``blobs/leases/``, locked with
``flock`` for as long as the process holds it, listing the keys it wrote and
has not committed. The garbage collector keeps every key listed in a locked
lease file and deletes lease files whose lock is free: the kernel releases a
lock when its process dies, so a crashed run never pins its garbage.

Leases cover what the grace period cannot: a blob written long before its
commit, such as a large parameter stored when a run starts and committed only
when its start step ends, however long that step takes.

With :class:`FileLeases`, every change of a lease file (its first version, each
rotation) happens under the shared lock, and the collector reads the leases
under the exclusive one: it never lists the directory halfway through a
rotation, when neither the old file nor the new one would be seen.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Protocol

from ..exceptions import DatastoreError
from .forks import reset_in_children
from .modes import file_mode, make_subdir, open_file

__all__ = ["BlobLease", "FileLeases", "Leases", "leased_keys"]


class Leases(Protocol):
    """A process's claims on blobs it stored but has not committed, and the collector's
    view of everyone's claims: files here, rows with an expiry in PostgreSQL."""

    def add(self, key: str) -> None:
        """Claim ``key``: a collector that starts from now on keeps it."""
        ...

    def release(self, keys: Iterable[str]) -> None:
        """Drop claims on ``keys`` (their artifacts are committed)."""
        ...

    def close(self) -> None:
        """Give up every claim."""
        ...

    def collecting(self, *, dry_run: bool = False) -> contextlib.AbstractContextManager[set[str]]:
        """Held by the collector while it deletes: every live claim, and no new claim
        can be made until it exits. ``dry_run``: change nothing (dead claims stay)."""
        ...


class BlobLease:
    """The uncommitted blob keys of one datastore object; thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self.path: Path | None = None
        reset_in_children(self)

    def _forked(self) -> None:
        # The parent's claims and lease file stay the parent's: a child that released or
        # closed them would unlink a file the parent still relies on.
        self._lock = threading.Lock()
        self._keys, self._file, self.path = set(), None, None

    def add(self, key: str) -> None:
        """Claim ``key`` until :meth:`release`; call it once the blob is stored."""
        with self._lock:
            if key in self._keys:
                return
            self._keys.add(key)
            if self._file is None:
                self._file = self._publish(self._keys)
            else:
                self._file.write(key + "\n")
                self._file.flush()

    def release(self, keys: Iterable[str]) -> None:
        """Drop claims on ``keys`` (their artifacts are committed)."""
        with self._lock:
            done = self._keys.intersection(keys)
            if not done:
                return
            self._keys -= done
            old, old_path = self._file, self.path
            # Nothing left to claim: no file at all, rather than an empty one left behind.
            self._file = self._publish(self._keys) if self._keys else None
            if self._file is None:
                self.path = None
            _drop(old, old_path)

    def _publish(self, keys: set[str]) -> IO[str]:
        # Each version of the lease is a new file, locked before it becomes visible
        # under its final name: the collector never sees an unlocked live lease, and
        # a file it finds unlocked is dead for good (no name is ever reused).
        make_subdir(self.directory)
        self.path = self.directory / f"{os.getpid()}-{os.urandom(16).hex()}"
        tmp = self.path.with_name(self.path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, file_mode(self.directory))  # see modes.py
        f = open(fd, "w")  # noqa: SIM115 - held open (and locked) for the lease's life
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write("".join(k + "\n" for k in sorted(keys)))
        f.flush()
        os.rename(tmp, self.path)
        return f

    def close(self) -> None:
        """Give up every claim."""
        with self._lock:
            self._keys.clear()
            _drop(self._file, self.path)
            self._file = self.path = None


def _drop(f: IO[str] | None, path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
    if f is not None:
        f.close()


def leased_keys(directory: Path, *, remove_dead: bool = True) -> set[str]:
    """Keys claimed by live processes; removes the lease files of dead ones unless
    ``remove_dead`` is false. Call it with the exclusive lock held (no rotation runs).

    Only regular files count; a symlink or directory planted among them is left
    alone. A symlinked lease directory is refused: leases read through it could
    not be trusted to be complete, so nothing could be safely deleted.
    """
    keys: set[str] = set()
    try:
        mode = os.lstat(directory).st_mode
    except FileNotFoundError:
        return keys
    if not stat.S_ISDIR(mode):
        raise DatastoreError(f"{directory} is not a directory (a symlink?); refusing to collect")
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                keys |= _read_lease(Path(entry.path), remove_dead)
    return keys


def _read_lease(path: Path, remove_dead: bool) -> set[str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return set()
    with open(fd) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return set(f.read().split())  # its process holds it: live
        if remove_dead:
            path.unlink(missing_ok=True)  # its process is gone (or it is a stale .new)
    return set()


class FileLeases(BlobLease):
    """Lease files under ``directory``; claims and the collector exclude each other
    through ``flock`` on ``lock_path`` (shared to claim, exclusive to collect)."""

    def __init__(self, directory: Path, lock_path: Path) -> None:
        super().__init__(directory)
        self.lock_path = lock_path

    def add(self, key: str) -> None:
        """Claim ``key`` (waits while a collector is deleting)."""
        with _flock(self.lock_path, fcntl.LOCK_SH):
            super().add(key)

    def add_locked(self, key: str) -> None:
        """Claim ``key`` with the shared lock already held (the local blob store calls
        it in the same moment it stores the blob)."""
        super().add(key)

    def release(self, keys: Iterable[str]) -> None:
        """Drop claims on ``keys``; the lease file rotates under the shared lock."""
        keys = set(keys)
        if self._keys.isdisjoint(keys):
            return  # nothing of ours (a reader's store may be read-only: no lock taken)
        with _flock(self.lock_path, fcntl.LOCK_SH):
            super().release(keys)

    @contextlib.contextmanager
    def collecting(self, *, dry_run: bool = False) -> Iterator[set[str]]:
        """Every live claim, with new claims, rotations (and local blob writes) held
        off; a dry run removes no dead lease file."""
        with _flock(self.lock_path, fcntl.LOCK_EX):
            yield leased_keys(self.directory, remove_dead=not dry_run)


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_file(path, os.O_RDWR)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock
