"""``resume``: a new run that clones the successful tasks of an earlier one by reference.

Which tasks are cloned follows Metaflow: every task of the origin run that
succeeded is reused, except in the step the user resumes from and every step
downstream of it, which run again. Failed and never-run tasks always run.
A foreach task is matched to its origin by its foreach indices, a task of a step a
switch loops back into also by how many times it looped. Cloning writes
new task rows that point at the origin's blob keys: no artifact is copied.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..cards.storage import copy_cards
from ..events import TaskCloned
from ..exceptions import NotFoundError, ResumeError
from ..flowspec import PARALLEL_VAR
from ..graph import FlowGraph, StepNode
from ..store import ArtifactRef, Datastore, RunRecord, TaskRecord
from .context import RunContext
from .parents import parent_ids
from .records import TaskInput, TaskResult

__all__ = [
    "ResumePlan",
    "TaskKey",
    "clone_task",
    "plan_continuation",
    "plan_resume",
    "reuse_task",
]

TaskKey = tuple[str, tuple[int, ...], int]


@dataclass(frozen=True)
class ResumePlan:
    """What a resumed run reuses from its origin run."""

    origin: RunRecord
    step: str | None
    rerun: frozenset[str]
    clones: dict[TaskKey, TaskRecord]
    param_refs: dict[str, ArtifactRef]
    #: The step each cloned switch task chose in the origin run, by origin task id.
    chosen: dict[int, str]
    #: A run continued in place that was itself resumed: what its own origin gives.
    then: ResumePlan | None = None
    #: A run continued in place: its tasks that recorded an attempt but never committed.
    unfinished: dict[TaskKey, TaskRecord] = field(default_factory=dict)

    def unfinished_of(self, inp: TaskInput) -> TaskRecord | None:
        """The registered task of a continued run that ``inp`` runs again, if any."""
        if inp.task_id is not None:  # a gang's ids are chosen together
            return None
        return self.unfinished.get((inp.step, tuple(f.index for f in inp.frames), inp.iteration))

    def clone_of(self, inp: TaskInput) -> TaskRecord | None:
        """The origin task to clone for ``inp``, or None if it must run."""
        found = None
        if inp.step not in self.rerun:
            found = self.clones.get((inp.step, tuple(f.index for f in inp.frames), inp.iteration))
        if found is None and self.then is not None:
            return self.then.clone_of(inp)
        return found

    def choice_of(self, origin: TaskRecord) -> str | None:
        """The step the switch task ``origin`` went to in its run, if it got that far."""
        if origin.run_id == self.origin.run_id:
            return self.chosen.get(origin.task_id)
        return self.then.choice_of(origin) if self.then is not None else None


def plan_resume(
    datastore: Datastore, graph: FlowGraph, origin_run_id: int | None, step: str | None
) -> ResumePlan:
    """Find the origin run (default: the latest of the flow) and what can be cloned from it."""
    origin = _origin_run(datastore, graph.name, origin_run_id)
    if step is not None and step not in graph.nodes:
        valid = ", ".join(n.name for n in graph.sorted_nodes())
        raise ResumeError(f"cannot resume from step '{step}': {graph.name} has no such step "
                          f"(its steps: {valid})")  # fmt: skip
    tasks = datastore.metadata.list_tasks(origin.flow, origin.run_id)
    return ResumePlan(
        origin,
        step,
        frozenset(graph.reachable_from(step)) if step else frozenset(),
        _successful(graph, tasks),
        _origin_params(datastore, origin, tasks),
        _switch_choices(graph, tasks),
    )


def plan_continuation(
    datastore: Datastore, graph: FlowGraph, run: RunRecord, step: str | None
) -> ResumePlan:
    """The plan of ``run`` continued in place after its process died: its own successful
    tasks are reused as they are (no new rows); for a resumed run, its origin run (resumed
    from ``step``) gives what the run had not cloned yet. ``param_refs`` is empty when no
    task committed and the run was no resume: its parameters are resolved again then."""
    tasks = datastore.metadata.list_tasks(run.flow, run.run_id)
    unfinished = datastore.metadata.list_unfinished(run.flow, run.run_id)
    then = plan_resume(datastore, graph, run.origin_run_id, step) if run.origin_run_id else None
    committed = any(t.status == "successful" for t in tasks)
    refs = _origin_params(datastore, run, tasks) if committed else {}
    if not refs and then is not None:
        refs = then.param_refs
    return ResumePlan(
        run, None, frozenset(), _successful(graph, tasks), refs, _switch_choices(graph, tasks),
        then, _by_key(graph, unfinished, _iterations(tasks + unfinished)),
    )  # fmt: skip


def _successful(graph: FlowGraph, tasks: list[TaskRecord]) -> dict[TaskKey, TaskRecord]:
    done = [t for t in tasks if t.status == "successful"]
    return _by_key(graph, done, _iterations(tasks))


def _by_key(
    graph: FlowGraph, tasks: list[TaskRecord], iterations: dict[int, int]
) -> dict[TaskKey, TaskRecord]:
    return {
        (t.step, tuple(int(f["index"]) for f in t.foreach_stack), iterations[t.task_id]): t
        for t in tasks
        if t.step in graph.nodes
    }


def _iterations(tasks: list[TaskRecord]) -> dict[int, int]:
    """For each task, how many tasks of its own step precede it as its direct parents
    (a switch looping back into its step), as the engine counts ``TaskInput.iteration``."""
    by_id = {t.task_id: t for t in tasks}
    counts: dict[int, int] = {}
    for task in sorted(tasks, key=lambda t: t.task_id):  # parents have smaller ids
        parent = by_id.get(task.parents[0]) if len(task.parents) == 1 else None
        looped = parent is not None and parent.step == task.step
        counts[task.task_id] = counts.get(task.parents[0], 0) + 1 if looped else 0
    return counts


def _switch_choices(graph: FlowGraph, tasks: list[TaskRecord]) -> dict[int, str]:
    """The step each switch task of the origin went to, read from its children."""
    switches = {t.task_id for t in tasks if t.step in graph.nodes and graph[t.step].is_switch}
    return {parent: task.step for task in tasks for parent in task.parents if parent in switches}


def _origin_run(datastore: Datastore, flow: str, run_id: int | None) -> RunRecord:
    meta = datastore.metadata
    if run_id is None:
        runs = meta.list_runs(flow)
        if not runs:
            raise NotFoundError("run", f"{flow}/latest", hint="; there is no run to resume")
        return runs[0]
    record = meta.get_run(flow, run_id)
    if record is None:
        raise NotFoundError("run", f"{flow}/{run_id}", hint="; there is no such run to resume")
    return record


def _origin_params(
    datastore: Datastore, origin: RunRecord, tasks: list[TaskRecord]
) -> dict[str, ArtifactRef]:
    """The origin's parameters as stored refs (exact values, nothing re-encoded) when a task
    committed them; otherwise re-persisted from the run record."""
    meta = datastore.metadata
    for task in tasks:
        if task.status == "successful":
            refs = {
                r.name: r for r in meta.list_artifacts(origin.flow, origin.run_id, task.task_id)
            }
            if all(name in refs for name in origin.params):
                return {name: refs[name] for name in origin.params}
    return {
        name: datastore.persist(name, value, step="_parameters")
        for name, value in origin.params.items()
    }


async def clone_task(run: RunContext, inp: TaskInput, origin: TaskRecord) -> TaskResult:
    """Commit a copy of ``origin`` under this run: new rows, the same blob keys."""
    node = run.graph[inp.step]
    task_id = inp.task_id if inp.task_id is not None else run.next_task_id()
    pathspec = run.task_pathspec(node.name, task_id)
    record = TaskRecord(
        run.flow_name, run.record.run_id, node.name, task_id, "successful", origin.attempt,
        time.time(), time.time(), [f.to_record() for f in inp.frames],
        parent_ids(inp), origin_task_id=origin.task_id,
    )  # fmt: skip
    refs, items = await anyio.to_thread.run_sync(
        _clone,
        run,
        origin,
        record,
        PARALLEL_VAR if node.parallel_foreach else node.foreach_param,
        limiter=run.thread_limiter,
    )
    chosen = _chosen(run, node, origin, refs) if node.is_switch else None
    run.emit(TaskCloned(pathspec, origin.pathspec))
    return TaskResult(node.name, task_id, pathspec, refs, inp.frames, items, chosen, inp.iteration)


async def reuse_task(run: RunContext, inp: TaskInput, done: TaskRecord) -> TaskResult:
    """A task of this very run that succeeded before its process died, as it stands."""
    node = run.graph[inp.step]
    refs, items = await anyio.to_thread.run_sync(
        _reused, run, done, PARALLEL_VAR if node.parallel_foreach else node.foreach_param,
        limiter=run.thread_limiter,
    )  # fmt: skip
    chosen = _chosen(run, node, done, refs) if node.is_switch else None
    run.emit(TaskCloned(done.pathspec, done.pathspec))
    return TaskResult(
        node.name, done.task_id, done.pathspec, refs, inp.frames, items, chosen, inp.iteration
    )


def _reused(
    run: RunContext, done: TaskRecord, foreach_var: str | None
) -> tuple[dict[str, ArtifactRef], list[Any] | None]:
    refs = {
        r.name: r
        for r in run.datastore.metadata.list_artifacts(done.flow, done.run_id, done.task_id)
    }
    return refs, _items(run, done, refs, foreach_var)


def _items(
    run: RunContext, origin: TaskRecord, refs: dict[str, ArtifactRef], foreach_var: str | None
) -> list[Any] | None:
    if foreach_var is None:
        return None
    return list(run.datastore.load(refs[foreach_var], pathspec=origin.pathspec))


def _chosen(
    run: RunContext, node: StepNode, origin: TaskRecord, refs: dict[str, ArtifactRef]
) -> str:
    """The case a cloned switch task takes: the one its origin took, or, if the origin
    run stopped before that step started, the case its condition artifact names."""
    assert run.resume is not None and node.condition is not None
    taken = run.resume.choice_of(origin)
    if taken is not None:
        return taken
    value = run.datastore.load(refs[node.condition], pathspec=origin.pathspec)
    for label, step in node.switch_cases.items():
        if label == str(value):
            return step
    raise ResumeError(
        f"cannot resume {origin.pathspec}: its switch condition {node.condition!r} is "
        f"{value!r}, which is none of its cases ({', '.join(node.switch_cases)})"
    )


def _clone(
    run: RunContext, origin: TaskRecord, record: TaskRecord, foreach_var: str | None
) -> tuple[dict[str, ArtifactRef], list[Any] | None]:
    meta = run.datastore.metadata
    refs = {r.name: r for r in meta.list_artifacts(origin.flow, origin.run_id, origin.task_id)}
    logs = {
        stream: meta.get_logs(origin.flow, origin.run_id, origin.task_id, stream)
        for stream in ("stdout", "stderr")
    }
    meta.commit_task(record, list(refs.values()), logs)
    copy_cards(run.datastore, origin, record)
    return refs, _items(run, origin, refs, foreach_var)
