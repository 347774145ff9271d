"""Loading, off the event loop, the inherited artifacts an async step reads.

A step reads ``self.x`` lazily; in an ``async def`` step that read would decode
the artifact on the event loop. Before such a step starts, the artifacts its
source reads as ``self.<name>`` are loaded in a worker thread instead. A read
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

from ..flowspec import FlowSpec
from ..graph import parse_source


@functools.cache
def attributes_read(func: Callable[..., Any]) -> frozenset[str]:
    """Names the function's source reads as attributes of its first argument."""
    try:
        tree = parse_source(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef | ast.AsyncFunctionDef) or not fdef.args.args:
        return frozenset()
    me = fdef.args.args[0].arg
    return frozenset(
        node.attr
        for node in ast.walk(fdef)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Name)
        and node.value.id == me
    )


def to_prefetch(flow: FlowSpec, func: Callable[..., Any]) -> list[str]:
    """The inherited artifacts ``func`` reads that are not loaded yet (cheap: no I/O)."""
    artifacts = flow._artifacts
    if artifacts is None:
        return []
    return [
        name
        for name in sorted(attributes_read(func))
        if name in artifacts and name not in flow.__dict__
    ]


def prefetch(flow: FlowSpec, func: Callable[..., Any]) -> None:
    """Load the inherited artifacts ``func`` reads (call in a worker thread)."""
    for name in to_prefetch(flow, func):
        getattr(flow, name)
