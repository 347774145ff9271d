"""Who may read and write a local store: the mode of its directory governs.

A directory made inside the store (``blobs/``, its ``tmp/``, ``leases/`` and fan-out
directories) gets its parent's mode (never writable by others); ``metadata.db``
(and SQLite's ``-wal`` and ``-shm`` beside it, which copy its mode), the lock files
(``metadata.db.open-lock``, ``blobs/.lock``) and lease files get their directory's
read and write bits (in a group's store, every writer of the group may then lock and
claim); a blob file gets its directory's read bits only, once written
(content-addressed: a blob is never rewritten in place). So a store in a ``0700``
directory is private (``0600`` database, ``0400`` blobs), one in ``0755`` readable by
everyone (``0644``, ``0444``), one in a ``2770`` group directory shared by the group.
The umask shapes the store directory when asyncflow creates it, nothing inside.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["blob_mode", "file_mode", "make_subdir", "open_file"]

#: Never copied from a parent such as /tmp: writable by others, sticky.
_NEVER = stat.S_IWOTH | stat.S_ISVTX


def file_mode(directory: Path) -> int:
    """The mode of a file asyncflow writes in ``directory``: its read and write bits."""
    return stat.S_IMODE(os.stat(directory).st_mode) & 0o666


def blob_mode(directory: Path) -> int:
    """The mode of a finished blob in ``directory``: its read bits only."""
    return file_mode(directory) & 0o444


def make_subdir(path: Path) -> None:
    """Create the directory ``path`` (its parent exists) with its parent's mode."""
    try:
        path.mkdir()
    except FileExistsError:
        return
    os.chmod(path, stat.S_IMODE(os.stat(path.parent).st_mode) & ~_NEVER)


def open_file(path: Path, flags: int) -> int:
    """A descriptor on ``path`` opened with ``flags`` (symlinks refused), creating the
    file if it is missing with :func:`file_mode` of its directory, whatever the umask.

    A new file is made under a temporary name and linked into place, so nobody ever
    opens it with other bits (a writer of the group, refused, before a chmod).
    """
    flags |= os.O_NOFOLLOW
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}")
    fd = os.open(tmp, flags | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, file_mode(path.parent))
        os.link(tmp, path)
    except FileExistsError:  # made meanwhile by another process: use theirs
        os.close(fd)
        return os.open(path, flags)
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return fd
