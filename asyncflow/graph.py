"""The step graph, built from the source of a flow's step methods before any task runs.

Pure and synchronous: nothing here runs a step. ``self.next(...)`` at the end of
each step is read with :mod:`ast`, like Metaflow does.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .decorators import ParallelSpec, find_spec, is_step

__all__ = [
    "FlowGraph",
    "StepNode",
    "parse_source",
    "self_reads",
    "step_functions",
    "to_dot",
    "to_mermaid",
]


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
    #: A switch's ``condition=`` artifact and its cases (the key as written -> step).
    condition: str | None = None
    switch_cases: dict[str, str] = field(default_factory=dict)
    has_next: bool = False
    next_lineno: int | None = None
    next_problem: str | None = None
    #: Lines of ``self.next(...)`` calls that are not the step's last statement.
    stray_next_lines: list[int] = field(default_factory=list)
    has_varargs: bool = False
    is_async: bool = False
    type: str = "linear"
    in_funcs: list[str] = field(default_factory=list)
    split_parents: list[str] = field(default_factory=list)
    #: The branch of the innermost open split this step lies on (its first step).
    split_branch: str | None = None
    matching_join: str | None = None
    doc: str = ""
    #: Names the step's source reads as ``self.<name>`` (the engine prefetches them).
    reads: frozenset[str] = frozenset()
    #: Whether the step is ``@parallel`` (its tasks run as one gang; Metaflow's name).
    parallel_step: bool = False
    #: Whether ``self.next(..., num_parallel=N)`` ends the step (a fan-out into a gang).
    parallel_foreach: bool = False
    #: Lines of the step's source that assign ``self.<name>``, by name (for messages).
    writes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def is_switch(self) -> bool:
        """Whether the step ends with a switch: ``self.next({...}, condition="var")``."""
        return self.type == "split-switch"

    def successors(self) -> list[str]:
        """Where the step may go, without a switch's edge back to itself."""
        return [out for out in self.out_funcs if not (self.is_switch and out == self.name)]

    @property
    def location(self) -> str:
        """``file:line`` of the step's ``def``, for messages."""
        return f"{self.file}:{self.lineno}"

    @property
    def next_location(self) -> str:
        """``file:line`` of the step's ``self.next(...)`` (its ``def`` if it has none)."""
        return f"{self.file}:{self.next_lineno or self.lineno}"


class FlowGraph:
    """All steps of a flow class, by name, with their transitions resolved."""

    def __init__(self, flow_cls: type) -> None:
        self.name = flow_cls.__name__
        self.doc = inspect.cleandoc(flow_cls.__doc__ or "")
        self.location = _class_location(flow_cls)
        self.nodes: dict[str, StepNode] = {
            name: _parse_step(name, func) for name, func in step_functions(flow_cls)
        }
        #: Methods of the flow that are not steps (a missing ``@step`` is named as such).
        self.plain_methods = frozenset(
            name
            for name in dir(flow_cls)
            if name not in self.nodes and inspect.isfunction(getattr(flow_cls, name, None))
        )
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
        """Steps in topological order from ``start``, ties by line; unreached steps last."""
        reached = self.reachable_from("start")
        waiting = {
            name: len({src for src in self.nodes[name].in_funcs if src in reached and src != name})
            for name in reached
        }
        ready = [self.nodes[n] for n in reached if waiting[n] == 0]
        order: list[StepNode] = []
        while ready:
            ready.sort(key=_by_line)
            node = ready.pop(0)
            order.append(node)
            for out in dict.fromkeys(node.successors()):
                if out in waiting:
                    waiting[out] -= 1
                    if waiting[out] == 0:
                        ready.append(self.nodes[out])
        placed = {node.name for node in order}
        rest = sorted((n for n in self.nodes.values() if n.name not in placed), key=_by_line)
        return order + rest

    def reachable_from(self, step: str) -> set[str]:
        """``step`` and every step downstream of it (empty if there is no such step)."""
        seen: set[str] = set()
        todo = [step] if step in self.nodes else []
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(out for out in self.nodes[name].out_funcs if out in self.nodes)
        return seen

    def join_branch(self, join: str, parent: str) -> str | None:
        """The branch of the split ``join`` closes that ``parent`` lies on (the join itself
        when the split goes straight into it); a switch's cases share their branch."""
        node = self.nodes[parent]
        return join if node.matching_join == join else node.split_branch

    def edges(self) -> list[tuple[str, str, str | None]]:
        """``(from, to, label or None)`` for every transition to a known step; the label
        is ``foreach <var>`` or, for a switch, ``<condition> = <case>``."""
        return [
            (node.name, out, label)
            for node in self.sorted_nodes()
            for out, label in _labelled_edges(node)
            if out in self.nodes
        ]


def _labelled_edges(node: StepNode) -> list[tuple[str, str | None]]:
    if node.is_switch:
        return [(out, f"{node.condition} = {case}") for case, out in node.switch_cases.items()]
    label = f"foreach {node.foreach_param}" if node.foreach_param is not None else None
    return [(out, label) for out in node.out_funcs]


# CPython 3.11 can fail ("AST constructor recursion depth mismatch") when two threads
# build ASTs at once, and graphs are built in worker threads: one parse at a time.
_AST_LOCK = threading.Lock()


def parse_source(text: str) -> ast.Module:
    """``ast.parse``, one caller at a time across threads."""
    with _AST_LOCK:
        return ast.parse(text)


def _class_location(flow_cls: type) -> str | None:
    """``file:line`` of the ``class`` statement, when its source can be found."""
    try:
        with _AST_LOCK:  # finding a class's source parses its module
            lines, first = inspect.getsourcelines(flow_cls)
        file = inspect.getsourcefile(flow_cls)
    except (OSError, TypeError):
        return None
    offset = next((i for i, line in enumerate(lines) if line.lstrip().startswith("class ")), 0)
    return f"{file}:{first + offset}" if file else None


def _by_line(node: StepNode) -> int:
    return node.lineno


def step_functions(flow_cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """``(name, function)`` of every ``@step`` method of ``flow_cls``, by name."""
    for name in dir(flow_cls):
        if name.startswith("__"):
            continue
        attr = inspect.getattr_static(flow_cls, name, None)
        if is_step(attr):
            assert attr is not None
            yield name, attr


def _parse_step(name: str, func: Callable[..., Any]) -> StepNode:
    target = inspect.unwrap(func)
    file = inspect.getsourcefile(target) or "<unknown>"
    lines, first = inspect.getsourcelines(target)
    tree = parse_source(textwrap.dedent("".join(lines)))
    fdef = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    node = StepNode(
        name=name,
        func=func,
        file=file,
        lineno=first + fdef.lineno - 1,  # getsourcelines starts at the first decorator
        num_args=len(fdef.args.posonlyargs) + len(fdef.args.args),
        has_varargs=bool(fdef.args.vararg or fdef.args.kwarg or fdef.args.kwonlyargs),
        is_async=isinstance(fdef, ast.AsyncFunctionDef),
        doc=inspect.cleandoc(ast.get_docstring(fdef) or ""),
        reads=self_reads(fdef),
        parallel_step=find_spec(func, ParallelSpec) is not None,
        writes=_self_writes(fdef, first),
    )
    _read_transition(node, fdef, first)
    return node


def _read_transition(
    node: StepNode, fdef: ast.FunctionDef | ast.AsyncFunctionDef, first: int
) -> None:
    last = fdef.body[-1]
    tail = last.value if isinstance(last, ast.Expr) else None
    node.stray_next_lines = [
        first + call.lineno - 1
        for call in ast.walk(fdef)
        if isinstance(call, ast.Call) and _is_self_next(call.func) and call is not tail
    ]
    if not (isinstance(tail, ast.Call) and _is_self_next(tail.func)):
        return
    node.has_next = True
    node.next_lineno = first + last.lineno - 1
    node.next_problem = _read_next_call(node, tail)
    if node.name == "end":
        # lint reports the call; the graph keeps end a sink so nothing else trips on it
        node.out_funcs, node.foreach_param = [], None
        node.condition, node.switch_cases = None, {}


def _read_next_call(node: StepNode, call: ast.Call) -> str | None:
    """Fill ``out_funcs``/``foreach_param`` from ``self.next(...)``; the problem, if any."""
    if call.args and isinstance(call.args[0], ast.Dict):
        return _read_switch(node, call)
    problem: str | None = None
    for arg in call.args:
        if isinstance(arg, ast.Attribute) and _is_self_attr(arg):
            node.out_funcs.append(arg.attr)
        else:
            problem = "every argument of self.next() must be a step, written self.<step_name>"
    for kw in call.keywords:
        if kw.arg == "foreach" and isinstance(kw.value, ast.Constant):
            if not isinstance(kw.value.value, str):
                problem = "foreach= must name an artifact, as a string"
            node.foreach_param = str(kw.value.value)
        elif kw.arg == "foreach":
            problem = "foreach= must be a string literal naming an artifact"
        elif kw.arg == "num_parallel":
            node.parallel_foreach = True
        elif kw.arg == "condition":
            problem = (
                "condition= goes with one dictionary of cases: self.next({...}, condition=...)"
            )
        else:
            problem = f"self.next() got an unknown keyword argument '{kw.arg}'"
    if problem is None and not node.out_funcs:
        problem = "self.next() must name at least one step"
    if problem is None and node.foreach_param is not None and len(node.out_funcs) != 1:
        problem = "a foreach transition must name exactly one step"
    if problem is None and node.parallel_foreach and len(node.out_funcs) != 1:
        problem = "a num_parallel transition must name exactly one step"
    if problem is None and node.parallel_foreach and node.foreach_param is not None:
        problem = "self.next() takes foreach= or num_parallel=, not both"
    return problem


def _read_switch(node: StepNode, call: ast.Call) -> str | None:
    """A switch, ``self.next({"a": self.x, ...}, condition="var")``, as Metaflow 2.19 has it."""
    cases = call.args[0]
    assert isinstance(cases, ast.Dict)
    condition = next((kw.value for kw in call.keywords if kw.arg == "condition"), None)
    others = [kw.arg for kw in call.keywords if kw.arg != "condition"]
    if others:
        return f"a switch takes only condition=, not {others[0]}="
    if len(call.args) != 1:
        return "a switch names its steps in one dictionary: self.next({...}, condition=...)"
    if condition is None:
        return "a dictionary in self.next() needs condition='<artifact>' to choose the case"
    if not (isinstance(condition, ast.Constant) and isinstance(condition.value, str)):
        return "condition= must be a string literal naming an artifact"
    for key, value in zip(cases.keys, cases.values, strict=True):
        label = _case_label(key)
        if label is None:
            return "a switch case must be a literal (a string or a number) or self.config.<key>"
        if not (isinstance(value, ast.Attribute) and _is_self_attr(value)):
            return "every case of a switch must go to a step, written self.<step_name>"
        node.switch_cases[label] = value.attr
    node.condition = condition.value
    node.out_funcs = list(dict.fromkeys(node.switch_cases.values()))
    if len(node.out_funcs) < 2:
        return "a switch must go to at least two different steps"
    return None


def _case_label(key: ast.expr | None) -> str | None:
    """A case key as written, or None if it is not one Metaflow allows."""
    if isinstance(key, ast.Constant) and isinstance(key.value, str | int | float | bool):
        return str(key.value)
    if (
        isinstance(key, ast.Attribute)
        and isinstance(key.value, ast.Attribute)
        and isinstance(key.value.value, ast.Name)
        and key.value.value.id == "self"
    ):
        return f"config:{key.value.attr}.{key.attr}"
    return None


def self_reads(fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """Names a function reads as attributes of its first argument (``self.x``)."""
    if not fdef.args.args:
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


def _self_writes(
    fdef: ast.FunctionDef | ast.AsyncFunctionDef, first: int
) -> dict[str, tuple[int, ...]]:
    if not fdef.args.args:
        return {}
    me = fdef.args.args[0].arg
    lines: dict[str, list[int]] = {}
    for node in ast.walk(fdef):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == me
        ):
            lines.setdefault(node.attr, []).append(first + node.lineno - 1)
    return {name: tuple(sorted(found)) for name, found in lines.items()}


def _is_self_next(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Attribute) and _is_self_attr(expr) and expr.attr == "next"


def _is_self_attr(expr: ast.Attribute) -> bool:
    return isinstance(expr.value, ast.Name) and expr.value.id == "self"


def _node_type(node: StepNode) -> str:
    if node.name == "end":
        return "end"
    if node.foreach_param is not None or node.parallel_foreach:
        return "foreach"
    if node.condition is not None:
        return "split-switch"
    if len(node.out_funcs) > 1:
        return "split"
    if node.num_args == 2:
        return "join"
    if node.name == "start":
        return "start"
    return "linear"


def _assign_split_parents(graph: FlowGraph) -> None:
    """Walk from start, keeping the stack of open splits (and the branch taken out of
    each), as Metaflow does; a switch opens no split: only one of its cases runs."""
    seen: set[str] = set()

    def walk(name: str, parents: list[str], branches: list[str]) -> None:
        if name not in graph.nodes or name in seen:
            return
        seen.add(name)
        node = graph.nodes[name]
        if node.num_args == 2 and parents:
            graph.nodes[parents[-1]].matching_join = name
            parents, branches = parents[:-1], branches[:-1]
        node.split_parents = parents
        node.split_branch = branches[-1] if branches else None
        opens = node.type in ("split", "foreach")
        for out in node.out_funcs:
            if opens:
                walk(out, [*parents, name], [*branches, out])
            else:
                walk(out, parents, branches)

    walk("start", [], [])


def to_dot(graph: FlowGraph) -> str:
    """The graph in Graphviz DOT: one box per step, one arrow per transition."""
    lines = [f'digraph "{graph.name}" {{', "  node [shape=box];"]
    for node in graph.sorted_nodes():
        shape = " [shape=ellipse]" if node.name in ("start", "end") else ""
        lines.append(f'  "{node.name}"{shape};')
    for src, dst, text in graph.edges():
        label = f" [label={_dot_quote(text)}]" if text else ""
        lines.append(f'  "{src}" -> "{dst}"{label};')
    lines.append("}")
    return "\n".join(lines)


def to_mermaid(graph: FlowGraph) -> str:
    """The graph as a Mermaid flowchart, top to bottom (ids are prefixed: ``end`` is a keyword)."""
    lines = ["flowchart TD"]
    for node in graph.sorted_nodes():
        shape = "([{}])" if node.name in ("start", "end") else "[{}]"
        lines.append(f"    step_{node.name}{shape.format(node.name)}")
    for src, dst, text in graph.edges():
        arrow = f"-->|{_mermaid_quote(text)}|" if text else "-->"
        lines.append(f"    step_{src} {arrow} step_{dst}")
    return "\n".join(lines)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mermaid_quote(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")
