"""Graph lint: the rules a flow must follow before it runs. Pure; returns messages."""

from __future__ import annotations

from .graph import FlowGraph, StepNode


def lint(graph: FlowGraph) -> list[str]:
    """Every rule the graph breaks, one message each, naming the step and its line."""
    findings: list[str] = []
    for required in ("start", "end"):
        if required not in graph:
            findings.append(f"the flow {graph.name} has no '{required}' step; add one")
    for node in graph.sorted_nodes():
        findings.extend(_check_node(graph, node))
    return findings


def _check_node(graph: FlowGraph, node: StepNode) -> list[str]:
    where = f"step '{node.name}' ({node.location})"
    if node.next_problem:
        return [f"{where}: {node.next_problem}"]
    if node.type == "end":
        return [f"{where}: the end step must not call self.next()"] if node.has_next else []
    if not node.has_next:
        return [f"{where}: the last statement of a step must be self.next(...)"]
    return [
        f"{where}: self.next() names step '{out}', which does not exist"
        for out in node.out_funcs
        if out not in graph
    ]
