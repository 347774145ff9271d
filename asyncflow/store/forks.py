"""What a forked child must not share with its parent: locks, SQLite connections, leases.

``os.fork()`` copies a process with only the forking thread: a lock another thread
held stays held for ever, and SQLite forbids using (or closing) a connection
opened before the fork. Objects holding such state register here and reset it in
the child (``multiprocessing`` forks by default on Linux).
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "reset_in_children"]


class ForkAware(Protocol):
    """An object that drops its parent's locks and handles in a forked child."""

    def _forked(self) -> None: ...


_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def reset_in_children(obj: ForkAware) -> None:
    """Call ``obj._forked()`` in every child this process forks from now on."""
    _objects.add(obj)


def _after_fork_in_child() -> None:
    for obj in list(_objects):
        obj._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)
