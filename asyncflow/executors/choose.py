"""Executors by name, as ``--executor NAME`` gives them."""

from __future__ import annotations

from .base import Executor

__all__ = ["open_executor"]


def open_executor(name: str) -> Executor:
    """The executor ``--executor NAME`` means (not started yet).

    ``processes[:N]``: N spawned worker processes on this machine (default: one per core).
    """
    from ..exceptions import ExecutorError

    kind, _, arg = name.partition(":")
    if kind == "processes" and (arg == "" or arg.isdigit()):
        if arg and int(arg) == 0:
            raise ExecutorError(f"--executor {name}: the number of workers must be at least 1")
        from .processes import ProcessExecutor

        return ProcessExecutor(int(arg) if arg else None)
    raise ExecutorError(f"--executor {name}: unknown executor; use processes[:N]")
