"""Executors by name, as ``--executor NAME`` gives them."""

from __future__ import annotations

from ..exceptions import ExecutorError
from .base import Executor

__all__ = ["open_executor"]


def open_executor(name: str) -> Executor:
    """The executor ``--executor NAME`` means (not started yet).

    ``processes[:N]``: N spawned worker processes on this machine (default: one per
    core); ``dask-local[:N]``: a Dask LocalCluster of N worker processes;
    ``dask://host:port``: an existing Dask scheduler (``asyncflow[dask]``);
    ``ray-local[:N]``: a local Ray with N CPUs; ``ray://host:port``: a Ray cluster's
    client server (``asyncflow[ray]``).
    """
    kind, _, arg = name.partition(":")
    if kind in ("processes", "dask-local") and (arg == "" or arg.isdigit()):
        workers = int(arg) if arg else None
        if workers == 0:
            raise ExecutorError(f"--executor {name}: the number of workers must be at least 1")
        if kind == "processes":
            from .processes import ProcessExecutor

            return ProcessExecutor(workers)
        from .dask import DaskExecutor

        return DaskExecutor(None, workers)
    if kind == "ray-local" and (arg == "" or arg.isdigit()):
        from .ray import RayExecutor

        return RayExecutor(None, int(arg) if arg else None)
    if kind == "ray" and arg.startswith("//") and len(arg) > 2:
        from .ray import RayExecutor

        return RayExecutor(name)
    if kind in ("dask", "tcp") and arg.startswith("//") and len(arg) > 2:
        from .dask import DaskExecutor

        return DaskExecutor(f"tcp:{arg}")
    raise ExecutorError(
        f"--executor {name}: unknown executor; use processes[:N], dask-local[:N], "
        "dask://host:port, ray-local[:N] or ray://host:port"
    )
