"""The executor protocol: what the engine asks of wherever a task's attempt runs."""

from __future__ import annotations

from typing import Protocol

from ..events import Listener
from ..store.urls import StoreURLs
from .spec import AttemptOutcome, TaskSpec

__all__ = ["Executor"]


class Executor(Protocol):
    """Runs task specs somewhere: worker processes, a Dask or a Ray cluster."""

    #: What ``--executor`` names it, e.g. ``processes:2`` or ``dask://host:8786``.
    name: str

    async def start(self) -> None:
        """Start or connect to the workers (a clear :class:`ExecutorError` if it cannot)."""
        ...

    def check_store(self, urls: StoreURLs) -> None:
        """Refuse (:class:`ExecutorError`) stores its workers cannot reach."""
        ...

    async def submit(self, spec: TaskSpec, on_event: Listener) -> AttemptOutcome:
        """Run one attempt; events of the attempt go to ``on_event`` (from any thread).

        Cancelling the call abandons the attempt (its commit is fenced off).
        """
        ...

    async def aclose(self) -> None:
        """Stop what :meth:`start` started."""
        ...
