"""The engine: schedules tasks on an anyio task group and commits their results."""

from __future__ import annotations

from .runtime import Engine, RunResult, current_user

__all__ = ["Engine", "RunResult", "current_user"]
