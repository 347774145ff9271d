"""The engine: schedules tasks on an anyio task group and commits their results."""

from __future__ import annotations

# Loaded before any step runs: steps import in threads at once, and CPython hands the
# second importer of a module still loading whatever sys.modules held when it looked,
# which for an alias package (``metaflow`` -> asyncflow, loaded by swapping the module
# into sys.modules) is its empty placeholder. With these loaded, the swap is immediate.
from .. import exception, metaflow_current  # noqa: F401
from .runtime import Engine, RunResult, current_user

__all__ = ["Engine", "RunResult", "current_user"]
