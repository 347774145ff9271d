"""Store upkeep: garbage-collect unreferenced blobs, verify every stored hash.

Garbage collection must be safe while runs are active. A task writes its
blobs first and commits the artifact records that reference them afterwards,
so a blob can be legitimately unreferenced for a while. Three mechanisms
cover that window:

- leases (:mod:`asyncflow.store.leases`): each process lists the blobs it
  wrote and has not committed in a lease file locked with ``flock``; the
  collector keeps them. The kernel drops the lock when the process dies, so
  a crashed run's lease stops protecting its garbage at once;
- a grace period: a blob whose mtime is younger than ``grace`` seconds (one
  hour by default) is never deleted. A writer that finds its blob already
  stored refreshes the mtime, so an old orphan that a task is about to
  reference again counts as new;
- a lock (``flock`` on ``blobs/.lock``): writers hold it shared while they
  store or touch a blob, the collector holds it exclusive while it re-checks
  mtimes and deletes. Without it a writer could touch a blob between the
  collector's check and its unlink.

A writer claims a local blob in its lease under the same shared lock as the
rename that makes it visible, and rotates its lease file under that lock too,
so the collector never sees a stored blob unclaimed and never reads the leases
halfway through a rotation. The grace period covers writers that do not take
leases (another tool writing through ``LocalBlobStore`` directly).

Temporary files are ``flock``-ed by their writers: the collector removes only
unlocked ones (their writer died) older than the grace period. It touches
nothing but the store's own regular files: symlinks and directories planted in
``blobs/``, ``blobs/tmp`` or ``blobs/leases`` are never followed or deleted (a
symlinked ``blobs/leases`` makes it refuse to run), and a dry run changes
nothing at all.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from ..wording import plural
from .blobs import BlobInfo, content_key
from .datastore import Datastore
from .keys import is_key

__all__ = ["DEFAULT_GRACE", "BlobProblem", "GcReport", "VerifyReport", "collect_garbage", "verify"]

#: Default grace period: far longer than any task's gap between writing and committing.
DEFAULT_GRACE = 3600.0


@dataclass
class GcReport:
    """What :func:`collect_garbage` removed, or would remove with ``dry_run``."""

    deleted: list[BlobInfo] = field(default_factory=list)
    kept_recent: list[BlobInfo] = field(default_factory=list)
    inline_deleted: int = 0
    temp_deleted: int = 0

    @property
    def freed_bytes(self) -> int:
        """Bytes of the deleted blob files."""
        return sum(b.size for b in self.deleted)


def collect_garbage(
    store: Datastore, *, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> GcReport:
    """Delete blob files no committed artifact references and older than ``grace`` s."""
    report = GcReport()
    referenced = store.metadata.referenced_keys()
    candidates = [b for b in store.blobs.scan() if b.key not in referenced]
    with store.collecting(dry_run=dry_run) as leased:
        cutoff = time.time() - grace
        referenced = store.metadata.referenced_keys()  # commits made while we scanned
        referenced |= leased
        for blob in candidates:
            fresh = store.blobs.stat(blob.key)
            if fresh is None or fresh.key in referenced:
                continue
            if fresh.mtime > cutoff:
                report.kept_recent.append(fresh)
                continue
            if not dry_run:
                store.blobs.delete(blob.key)
            report.deleted.append(fresh)
        if not dry_run:
            report.inline_deleted = store.metadata.delete_unreferenced_inline()
            report.temp_deleted = store.blobs.clean_temp(cutoff)
    return report


@dataclass
class BlobProblem:
    """A blob that is missing or does not match its key, and who uses it."""

    key: str
    problem: str
    artifacts: list[str]
    inline: bool = False  # a value stored in the metadata database, not a blob file


@dataclass
class VerifyReport:
    """What :func:`verify` checked and found."""

    checked_blobs: int = 0
    checked_inline: int = 0
    problems: list[BlobProblem] = field(default_factory=list)

    @property
    def checked(self) -> int:
        """Blob files and inline values checked."""
        return self.checked_blobs + self.checked_inline

    @property
    def ok(self) -> bool:
        """Whether every blob is present and intact."""
        return not self.problems


def verify(store: Datastore) -> VerifyReport:
    """Recompute the hash of every blob file and inline value; report each bad one."""
    report = VerifyReport()
    _verify_files(store, report)
    _verify_inline(store, report)
    return report


def _usages(store: Datastore, inline: bool) -> dict[str, tuple[int, list[str]]]:
    users: dict[str, list[str]] = defaultdict(list)
    sizes: dict[str, int] = {}
    for key, pathspec, size in store.metadata.artifact_usages(inline):
        users[key].append(pathspec)
        sizes[key] = size
    return {key: (sizes[key], paths) for key, paths in users.items()}


def _verify_files(store: Datastore, report: VerifyReport) -> None:
    usages = _usages(store, inline=False)
    on_disk = {b.key for b in store.blobs.scan()}
    for key in sorted(on_disk | set(usages)):
        size, users = usages.get(key, (None, []))
        report.checked_blobs += 1
        problem = _file_problem(store, key, size, key in on_disk)
        if problem is not None:
            report.problems.append(BlobProblem(key, problem, users))


def _file_problem(store: Datastore, key: str, size: int | None, present: bool) -> str | None:
    if not is_key(key):
        return "an invalid key (not a BLAKE3 hex digest): the metadata is damaged or hostile"
    if not present:
        return f"missing (expected at {store.blobs.where(key)})"
    view = store.blobs.get(key)
    try:
        if size is not None and view.nbytes != size:
            return f"corrupted: {plural(view.nbytes, 'byte')} on disk, {size} expected"
        if content_key([view]) != key:
            return "corrupted: its content does not match its hash"
        return None
    finally:
        view.release()


def _verify_inline(store: Datastore, report: VerifyReport) -> None:
    usages = _usages(store, inline=True)
    in_rows: dict[str, set[str]] = defaultdict(set)  # each row's copy is checked alone
    bad: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, pathspec, data in store.metadata.row_values():
        in_rows[key].add(pathspec)
        problem = _inline_problem(key, usages.get(key, (len(data), []))[0], data)
        if problem is not None:
            bad[key, problem].append(pathspec)
    for key, (size, users) in sorted(usages.items()):
        report.checked_inline += 1
        problem = None
        shared = [u for u in users if u not in in_rows.get(key, ())]
        if shared:  # the users of the one copy kept by key
            problem = _inline_problem(key, size, store.metadata.get_inline(key))
        if problem is not None:
            report.problems.append(BlobProblem(key, problem, shared, inline=True))
    for (key, problem), users in sorted(bad.items()):
        report.problems.append(BlobProblem(key, problem, users, inline=True))


def _inline_problem(key: str, size: int, data: bytes | None) -> str | None:
    if data is None:
        return "missing from the metadata database"
    if len(data) != size:
        return f"corrupted: {plural(len(data), 'byte')} stored, {size} expected"
    if content_key([data]) != key:
        return "corrupted: its content does not match its hash"
    return None
