"""The step graph, built from the source of a flow's step methods before any task runs.

Pure and synchronous: nothing here runs a step. ``self.next(...)`` at the end of
each step is read with :mod:`ast`, like Metaflow does.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .decorators import is_step


@dataclass
class StepNode:
    """One step: where it is defined, where it goes, and its place among splits."""

    name: str
    func: Callable[..., Any]
    file: str
    lineno: int
    num_args: int
    out_funcs: list[str] = field(default_factory=list)
    foreach_param: str | None = None
    has_next: bool = False
    next_lineno: int | None = None
    next_problem: str | None = None
    is_async: bool = False
    type: str = "linear"
    in_funcs: list[str] = field(default_factory=list)
    split_parents: list[str] = field(default_factory=list)
    matching_join: str | None = None

    @property
    def location(self) -> str:
        """``file:line`` of the step's ``def``, for messages."""
        return f"{self.file}:{self.lineno}"


class FlowGraph:
    """All steps of a flow class, by name, with their transitions resolved."""

    def __init__(self, flow_cls: type) -> None:
        self.name = flow_cls.__name__
        self.nodes: dict[str, StepNode] = {
            name: _parse_step(name, func) for name, func in _step_functions(flow_cls)
        }
        for node in self.nodes.values():
            node.type = _node_type(node)
        for node in self.nodes.values():
            for out in node.out_funcs:
                if out in self.nodes:
                    self.nodes[out].in_funcs.append(node.name)
        _assign_split_parents(self)

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.nodes.values())

    def sorted_nodes(self) -> list[StepNode]:
        """Steps in order of a walk from ``start`` (unreached steps last, by line)."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.nodes:
                return
            seen.add(name)
            order.append(name)
            for out in self.nodes[name].out_funcs:
                visit(out)

        visit("start")
        rest = sorted((n for n in self.nodes.values() if n.name not in seen), key=_by_line)
        return [self.nodes[n] for n in order] + rest


def _by_line(node: StepNode) -> int:
    return node.lineno


def _step_functions(flow_cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in dir(flow_cls):
        if name.startswith("__"):
            continue
        attr = getattr(flow_cls, name, None)
        if is_step(attr):
            assert attr is not None
            yield name, attr


def _parse_step(name: str, func: Callable[..., Any]) -> StepNode:
    target = inspect.unwrap(func)
    file = inspect.getsourcefile(target) or "<unknown>"
    lines, first = inspect.getsourcelines(target)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    fdef = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    node = StepNode(
        name=name,
        func=func,
        file=file,
        lineno=first + _def_offset(fdef),
        num_args=len(fdef.args.args),
        is_async=isinstance(fdef, ast.AsyncFunctionDef),
    )
    _read_transition(node, fdef, first)
    return node


def _def_offset(fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    # getsourcelines starts at the first decorator; report the line of `def`.
    return fdef.lineno - 1


def _read_transition(
    node: StepNode, fdef: ast.FunctionDef | ast.AsyncFunctionDef, first: int
) -> None:
    last = fdef.body[-1]
    call = last.value if isinstance(last, ast.Expr) else None
    if not (isinstance(call, ast.Call) and _is_self_next(call.func)):
        return
    node.has_next = True
    node.next_lineno = first + last.lineno - 1
    for arg in call.args:
        if _is_self_attr(arg):
            assert isinstance(arg, ast.Attribute)
            node.out_funcs.append(arg.attr)
        else:
            node.next_problem = "self.next() takes steps written as self.<step_name>"
    for kw in call.keywords:
        if kw.arg == "foreach" and isinstance(kw.value, ast.Constant):
            node.foreach_param = str(kw.value.value)
        elif kw.arg == "foreach":
            node.next_problem = "foreach= must be a string literal naming an artifact"
        else:
            node.next_problem = f"self.next() got an unknown keyword '{kw.arg}'"


def _is_self_next(expr: ast.expr) -> bool:
    return _is_self_attr(expr) and isinstance(expr, ast.Attribute) and expr.attr == "next"


def _is_self_attr(expr: ast.expr) -> bool:
    return (
        isinstance(expr, ast.Attribute)
        and isinstance(expr.value, ast.Name)
        and expr.value.id == "self"
    )


def _node_type(node: StepNode) -> str:
    if node.name == "end":
        return "end"
    if node.num_args > 1:
        return "join"
    if node.foreach_param is not None:
        return "foreach"
    if len(node.out_funcs) > 1:
        return "split"
    if node.name == "start":
        return "start"
    return "linear"


def _assign_split_parents(graph: FlowGraph) -> None:
    """Walk from start, keeping the stack of open splits, as Metaflow does."""
    seen: set[str] = set()

    def walk(name: str, parents: list[str]) -> None:
        if name not in graph.nodes or name in seen:
            return
        seen.add(name)
        node = graph.nodes[name]
        if node.type == "join" and parents:
            graph.nodes[parents[-1]].matching_join = name
            parents = parents[:-1]
        node.split_parents = parents
        if node.type in ("split", "foreach"):
            parents = [*parents, name]
        for out in node.out_funcs:
            walk(out, parents)

    walk("start", [])
