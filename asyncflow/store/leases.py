"""Leases: a process's claim on blobs it wrote but has not committed yet.

Each :class:`BlobLease` owns one file under ``blobs/leases/``, locked with
``flock`` for as long as the process holds it, listing the keys it wrote and
has not committed. The garbage collector keeps every key listed in a locked
lease file and deletes lease files whose lock is free: the kernel releases a
lock when its process dies, so a crashed run never pins its garbage.

Leases cover what the grace period cannot: a blob written long before its
commit, such as a large parameter stored when a run starts and committed only
when its start step ends, however long that step takes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Protocol

from .forks import reset_in_children

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

    def collecting(self) -> contextlib.AbstractContextManager[set[str]]:
        """Held by the collector while it deletes: every live claim, and no new claim
        can be made until it exits."""
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
        self.directory.mkdir(exist_ok=True)
        self.path = self.directory / f"{os.getpid()}-{os.urandom(16).hex()}"
        tmp = self.path.with_name(self.path.name + ".new")
        f = open(tmp, "w")  # noqa: SIM115 - held open (and locked) for the lease's life
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


def leased_keys(directory: Path) -> set[str]:
    """Keys claimed by live processes; removes the lease files of dead ones."""
    keys: set[str] = set()
    if not directory.is_dir():
        return keys
    for path in directory.iterdir():
        if path.name.endswith(".new"):
            continue
        with contextlib.suppress(FileNotFoundError), open(path) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                keys.update(f.read().split())
                continue
            path.unlink(missing_ok=True)  # its process is gone
    return keys


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

    @contextlib.contextmanager
    def collecting(self) -> Iterator[set[str]]:
        """Every live claim, with new claims (and local blob writes) held off."""
        with _flock(self.lock_path, fcntl.LOCK_EX):
            yield leased_keys(self.directory)


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock
