"""Graph lint: the rules a flow must follow before it runs. Pure; returns messages.

The rules are Metaflow's (reserved and malformed step names, start and end,
step signatures, ``self.next`` present, last and well formed, known targets,
no cycles but a switch going back to its own step, no orphans, balanced splits and
joins, no foreach or switch straight into a join); every finding is reported, not
only the first, and each message names the step and the line it is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .decorators import CatchSpec, find_spec
from .graph import FlowGraph, StepNode
from .wording import plural

__all__ = [
    "RESERVED_STEP_NAMES",
    "Check",
    "check_cycles",
    "check_foreach_into_join",
    "check_orphans",
    "check_parallel",
    "check_signatures",
    "check_split_join_balance",
    "check_start_and_end",
    "check_step_decorators",
    "check_step_names",
    "check_switch_into_join",
    "check_transitions",
    "lint",
]

#: Names a step may not have: they are attributes every flow already has.
RESERVED_STEP_NAMES = frozenset(
    {"name", "next", "input", "index", "cmd", "foreach_stack", "merge_artifacts", "script_name"}
)

_VALID_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")

Check = Callable[[FlowGraph], Iterator[str]]


def lint(graph: FlowGraph) -> list[str]:
    """Every rule the graph breaks, one message each, naming the step and its line."""
    findings = [msg for check in _LOCAL_CHECKS for msg in check(graph)]
    broken_transitions = list(check_transitions(graph))
    findings += broken_transitions
    if broken_transitions or "start" not in graph or "end" not in graph:
        # reachability is meaningless then: the structural rules would only echo these
        return findings
    cycles = list(check_cycles(graph))
    findings += cycles + list(check_orphans(graph))
    if not cycles:
        findings += _unique(check_split_join_balance(graph))
        findings += list(check_foreach_into_join(graph))
        findings += list(check_switch_into_join(graph))
    return findings


def _at(node: StepNode, line: int | None = None) -> str:
    return f"step '{node.name}' ({node.file}:{line or node.lineno})"


def _unique(messages: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def check_start_and_end(graph: FlowGraph) -> Iterator[str]:
    """A flow needs a ``start`` and an ``end`` step."""
    for required in ("start", "end"):
        if required in graph.plain_methods:
            yield (
                f"the flow {graph.name} has no '{required}' step: its method {required}() "
                f"lacks @step; put @step above def {required}"
            )
        elif required not in graph:
            where = f" ({graph.location})" if graph.location else ""
            yield f"the flow {graph.name}{where} has no '{required}' step; add one"


def check_step_names(graph: FlowGraph) -> Iterator[str]:
    """Step names are lowercase identifiers that do not shadow a flow attribute."""
    for node in graph.sorted_nodes():
        if node.name in RESERVED_STEP_NAMES:
            yield f"{_at(node)}: '{node.name}' is a reserved name; give the step another name"
        elif not _VALID_NAME.fullmatch(node.name):
            yield (
                f"{_at(node)}: a step name may only use lowercase letters, digits and "
                "underscores, and may not start with an underscore"
            )


def check_signatures(graph: FlowGraph) -> Iterator[str]:
    """Plain steps take ``self``; join steps take ``self, inputs``; nothing else."""
    for node in graph.sorted_nodes():
        where = _at(node)
        if node.num_args == 0:
            yield f"{where}: a step must take 'self' as its first argument"
        elif node.has_varargs or node.num_args > 2:
            yield (
                f"{where}: a step takes only 'self', or 'self, inputs' when it is a join; "
                "remove the other arguments"
            )
        elif node.num_args == 2 and node.name == "end":
            yield (
                f"{where}: the end step cannot be a join (it takes 'inputs'); add a join before it"
            )
        elif node.num_args == 2 and node.type in ("split", "foreach", "split-switch"):
            yield (
                f"{where}: a step cannot both join (it takes 'inputs') and split; "
                "split in a separate step after the join"
            )


def check_transitions(graph: FlowGraph) -> Iterator[str]:
    """Every step but end ends with one well-formed ``self.next(...)`` to known steps."""
    for node in graph.sorted_nodes():
        yield from _transition_findings(graph, node)


def _transition_findings(graph: FlowGraph, node: StepNode) -> Iterator[str]:
    if node.type == "end":
        if node.has_next or node.stray_next_lines:
            line = node.next_lineno or node.stray_next_lines[0]
            yield f"{_at(node, line)}: the end step must not call self.next(); remove it"
        return
    if node.next_problem:
        yield f"{_at(node, node.next_lineno)}: {node.next_problem}"
    elif not node.has_next and node.stray_next_lines:
        line = node.stray_next_lines[0]
        yield (
            f"{_at(node, line)}: self.next(...) must be the last statement of the step, "
            "called once on every path"
        )
    elif not node.has_next:
        yield f"{_at(node)}: the last statement of a step must be self.next(...)"
    for out in node.out_funcs:
        if out in graph.plain_methods:
            yield (
                f"{_at(node, node.next_lineno)}: self.next() goes to {out}(), a method that "
                f"lacks @step; put @step above def {out}"
            )
        elif out not in graph:
            yield f"{_at(node, node.next_lineno)}: self.next() goes to unknown step '{out}'"


def check_cycles(graph: FlowGraph) -> Iterator[str]:
    """A flow is acyclic; each loop is reported once, with its path."""
    reported: set[frozenset[str]] = set()
    for path in _cycles(graph):
        key = frozenset(path)
        if key in reported:
            continue
        reported.add(key)
        closer = graph[path[-2]]
        yield (
            f"{_at(closer, closer.next_lineno)}: the flow loops: {' -> '.join(path)}; "
            "break the loop in the self.next() calls"
        )


def _cycles(graph: FlowGraph) -> Iterator[list[str]]:
    done: set[str] = set()
    stack: list[str] = []

    def visit(name: str) -> Iterator[list[str]]:
        stack.append(name)
        for out in graph[name].successors():  # a switch may loop on its own step
            if out in stack:
                yield [*stack[stack.index(out) :], out]
            elif out in graph and out not in done:
                yield from visit(out)
        stack.pop()
        done.add(name)

    for node in graph.sorted_nodes():
        if node.name not in done:
            yield from visit(node.name)


def check_orphans(graph: FlowGraph) -> Iterator[str]:
    """Every step can be reached from start."""
    reached = graph.reachable_from("start")
    for node in graph.sorted_nodes():
        if node.name not in reached:
            yield (
                f"{_at(node)}: no path from start reaches this step; "
                f"call self.next(self.{node.name}) somewhere or remove it"
            )


def check_split_join_balance(graph: FlowGraph) -> Iterator[str]:
    """Every split is joined before end, by a join that all its branches reach."""
    seen: set[tuple[str, tuple[str, ...]]] = set()

    def walk(name: str, splits: tuple[str, ...], came_from: str) -> Iterator[str]:
        if (name, splits) in seen or name not in graph:
            return
        seen.add((name, splits))
        node = graph[name]
        if node.type == "end" and splits:
            yield _unjoined_at_end(graph, node, splits[-1], came_from)
            return
        if node.type != "join" and splits and len(_branches_into(graph, node)) > 1:
            yield (
                f"{_at(node)}: {len(node.in_funcs)} steps go into this step "
                f"({', '.join(node.in_funcs)}), so it joins the split at step '{splits[-1]}', "
                f"but it takes no 'inputs'; define it as def {name}(self, inputs)"
            )
            splits = splits[:-1]  # as if it took them: what follows is judged on its own
        elif node.type == "join":
            if not splits:
                yield f"{_at(node)}: this join step (it takes 'inputs') follows no split"
                return
            yield from _join_findings(graph, node, splits[-1])
            splits = splits[:-1]
        if node.type in ("split", "foreach"):
            splits = (*splits, name)
        for out in node.out_funcs:
            yield from walk(out, splits, name)

    yield from walk("start", (), "")


def _branches_into(graph: FlowGraph, node: StepNode) -> set[str | None]:
    # a switch's cases and a loop back into a step lie on one branch: no join needed
    return {graph.join_branch(node.name, p) for p in node.in_funcs if p in graph}


def _unjoined_at_end(graph: FlowGraph, end: StepNode, split: str, came_from: str) -> str:
    roots = graph[split].out_funcs
    message = (
        f"{_at(end)}: the flow reaches end while the split at step '{split}' "
        f"(into {', '.join(roots)}) is not joined; add a join step before end"
    )
    if came_from not in (split, *roots):  # the step before end may be a join missing inputs
        message += f", or make step '{came_from}' one: def {came_from}(self, inputs)"
    return message


def _join_findings(graph: FlowGraph, node: StepNode, split: str) -> Iterator[str]:
    roots = graph[split].out_funcs
    if _branches_into(graph, node) != set(roots):
        yield (
            f"{_at(node)}: this join is reached from {plural(len(node.in_funcs), 'step')} "
            f"({', '.join(node.in_funcs)}) but the split at step '{split}' opened "
            f"{plural(len(roots), 'branch', 'branches')} ({', '.join(roots)}); "
            "every branch must reach it"
        )
    lineages = {_lineage(graph, parent) for parent in node.in_funcs if parent in graph}
    if len(lineages) > 1:
        yield f"{_at(node)}: this join gathers branches of different splits; join each split apart"


def _lineage(graph: FlowGraph, name: str) -> tuple[str, ...]:
    # A join's split_parents already exclude the split it closes.
    return tuple(graph[name].split_parents)


def check_foreach_into_join(graph: FlowGraph) -> Iterator[str]:
    """A foreach needs at least one step between it and its join."""
    for node in graph.sorted_nodes():
        for out in node.out_funcs:
            if node.type == "foreach" and out in graph and graph[out].num_args == 2:
                yield (
                    f"{_at(node, node.next_lineno)}: the foreach goes straight into join "
                    f"step '{out}'; add a step between them"
                )


def check_switch_into_join(graph: FlowGraph) -> Iterator[str]:
    """A switch's case cannot be a join step (Metaflow refuses it too)."""
    for node in graph.sorted_nodes():
        for out in node.successors() if node.is_switch else ():
            if out in graph and graph[out].num_args == 2:
                yield (
                    f"{_at(node, node.next_lineno)}: a case of the switch goes straight into "
                    f"join step '{out}'; add a step between them on that path"
                )


def check_step_decorators(graph: FlowGraph) -> Iterator[str]:
    """Lint rule: ``@catch`` cannot recover a foreach or a switch step (Metaflow refuses
    them too)."""
    for node in graph.sorted_nodes():
        if find_spec(node.func, CatchSpec) is None:
            continue
        if node.type == "foreach":
            yield (
                f"step '{node.name}' ({node.location}): @catch is not supported on a foreach "
                "step, whose fan-out needs the list it failed to make; move the work that "
                "may fail into another step"
            )
        elif node.is_switch:
            yield (
                f"step '{node.name}' ({node.location}): @catch is not supported on a switch "
                "step, which cannot choose a case once it failed; move the work that may "
                "fail into another step"
            )


def check_parallel(graph: FlowGraph) -> Iterator[str]:
    """Lint rule: a ``@parallel`` step is entered only by ``num_parallel=``, and
    ``num_parallel=`` goes only into a ``@parallel`` step (as Metaflow requires)."""
    for node in graph.sorted_nodes():
        parents = [graph[name] for name in node.in_funcs]
        if node.parallel_step and not all(p.parallel_foreach for p in parents):
            yield (
                f"step '{node.name}' ({node.location}): a @parallel step '{node.name}' must be "
                f"entered with self.next(self.{node.name}, num_parallel=N)"
            )
        for out in node.out_funcs if node.parallel_foreach else ():
            if out in graph and not graph[out].parallel_step:
                yield (
                    f"{_at(node, node.next_lineno)}: num_parallel= leads to step '{out}', "
                    "which is not @parallel; decorate it with @parallel"
                )


_LOCAL_CHECKS: tuple[Check, ...] = (
    check_start_and_end,
    check_step_names,
    check_signatures,
    check_step_decorators,
    check_parallel,
)
