"""Fault injection for crash tests: make the store die or fail at a named point.

Set ``ASYNCFLOW_FAULT_INJECT=POINT[@N][:ACTION]`` in the environment of a
process: the Nth time (default: the first) the store reaches ``POINT`` it
``kill``s its own process with SIGKILL (the default action: a machine that loses
power, so the command line's supervising parent dies first and continues nothing),
``kill-process`` kills this process alone, or it raises the ``OSError`` a full disk
(``enospc``) or a read-only directory (``eacces``) would.

Points: ``blob-write`` (a large blob half written), ``blob-rename`` (a blob
fully written to its temporary file, not yet renamed), ``commit-task`` (every
row of a task inserted, the transaction not yet committed).
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections import Counter

from ..supervisor import SUPERVISOR_PID_ENV

__all__ = ["ENV", "POINTS", "fault_point"]

ENV = "ASYNCFLOW_FAULT_INJECT"
POINTS = ("blob-write", "blob-rename", "commit-task")

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def fault_point(name: str) -> None:
    """Die or fail here if ``$ASYNCFLOW_FAULT_INJECT`` names this point (a no-op otherwise)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, action = spec.partition(":")
    point, _, nth = target.partition("@")
    if point != name:
        return
    with _lock:
        _hits[name] += 1
        hits = _hits[name]
    if hits >= int(nth or 1):  # an error keeps happening from then on, like a full disk
        _act(action or "kill", name)


def _act(action: str, name: str) -> None:
    supervisor = os.environ.get(SUPERVISOR_PID_ENV)
    if action == "kill" and supervisor and int(supervisor) == os.getppid():
        os.kill(int(supervisor), signal.SIGKILL)  # this process dies of it too
    if action in ("kill", "kill-process"):
        os.kill(os.getpid(), signal.SIGKILL)
    code = {"enospc": errno.ENOSPC, "eacces": errno.EACCES}[action]
    raise OSError(code, f"{os.strerror(code)} (injected at {name})")
