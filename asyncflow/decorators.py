"""The ``@step`` decorator: it only marks a method; the graph and engine do the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "_asyncflow_step"


def step(func: F) -> F:
    """Mark a method of a ``FlowSpec`` as a step (``def`` or ``async def``)."""
    setattr(func, STEP_MARK, True)
    if not hasattr(func, "decorators"):
        setattr(func, "decorators", [])  # noqa: B010 - step decorators (retry, catch, ...) append here
    return func


def is_step(obj: object) -> bool:
    """Whether ``obj`` is a function marked with ``@step``."""
    return callable(obj) and getattr(obj, STEP_MARK, False) is True
