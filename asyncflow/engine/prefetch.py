"""Loading, off the event loop, the inherited artifacts an async step reads.

A step reads ``self.x`` lazily; in an ``async def`` step that read would decode
the artifact on the event loop. Before such a step starts, the artifacts its
source reads as ``self.<name>`` are loaded in a worker thread instead, and so is the
task's private copy of its foreach item when it reads ``self.input``. A read
the source does not show (``getattr(self, name)``, a helper method) still loads
lazily, on the loop.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from ..artifacts import is_immutable
from ..flowspec import FlowSpec
from ..graph import parse_source, self_reads

__all__ = ["attributes_read", "prefetch", "to_prefetch"]


@functools.cache
def attributes_read(func: Callable[..., Any]) -> frozenset[str]:
    """Names the function's source reads as attributes of its first argument.

    The engine uses :attr:`StepNode.reads`, found when the graph is built (in a worker
    thread); this parses ``func`` again, for callers that have no graph.
    """
    try:
        tree = parse_source(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef | ast.AsyncFunctionDef):
        return frozenset()
    return self_reads(fdef)


def to_prefetch(flow: FlowSpec, read: frozenset[str]) -> list[str]:
    """Of the names a step's source reads (``read``), the inherited artifacts not loaded
    yet, and ``input`` if it reads a foreach item not copied yet (cheap: no I/O)."""
    names = []
    if ("input" in read or "foreach_stack" in read) and _uncopied_items(flow):
        names.append("input")
    artifacts = flow._artifacts
    if artifacts is not None:
        inherited, loaded = artifacts.inherited, flow.__dict__
        names += [n for n in _in_order(read) if n in inherited and n not in loaded]
    return names


@functools.lru_cache(maxsize=1024)
def _in_order(read: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(read))  # once per step, not once per task


def _uncopied_items(flow: FlowSpec) -> bool:
    # An immutable item is "copied" by returning it: no need to leave the loop for it.
    return any(
        not frame._copied and not is_immutable(frame._source) for frame in flow._foreach_frames
    )


def prefetch(flow: FlowSpec, read: frozenset[str]) -> None:
    """Load what :func:`to_prefetch` names (call in a worker thread)."""
    for name in to_prefetch(flow, read):
        if name == "input":  # reserved: never an artifact's name
            for frame in flow._foreach_frames:
                frame.value  # noqa: B018 -- the task's private copy is made on first access
        else:
            getattr(flow, name)
