"""The worker's side: run one task spec to its fenced commit and describe how it ended.

This is what every executor runs remotely (a worker process, a Dask or a Ray
worker): it opens the store the spec names, imports the flow from its code
package, runs the attempt exactly as the engine runs one in its own process
(async steps on this worker's own loop), and commits it only if the engine
still counts on this attempt.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Callable

import anyio

from ..engine.attempts import AttemptFailed, one_attempt
from ..engine.context import RunContext
from ..engine.parents import reading_from
from ..events import ArtifactStored, Event, TaskOutput
from ..graph import FlowGraph, step_functions
from ..store import Datastore
from .code import as_launched, load_flow
from .spec import AttemptOutcome, TaskSpec, without_data

__all__ = ["run_spec"]

_stores: dict[tuple[str, str], Datastore] = {}
_stores_lock = threading.Lock()


def _datastore(datastore: str, metadata: str) -> Datastore:
    """One open datastore per pair of store URLs and process."""
    with _stores_lock:
        store = _stores.get((datastore, metadata))
        if store is None:
            store = _stores[datastore, metadata] = Datastore.open(datastore, metadata=metadata)
        return store


def run_spec(spec: TaskSpec, on_event: Callable[[Event], None] | None = None) -> AttemptOutcome:
    """Run one attempt (blocking); events go to ``on_event`` as they happen, or else
    come back in the outcome."""
    kept: list[Event] = []
    forward = on_event or kept.append

    def listener(event: Event) -> None:
        if isinstance(event, TaskOutput | ArtifactStored):  # the engine emits the rest
            forward(event)

    outcome = anyio.run(_run, spec, listener)
    outcome.events = kept
    return outcome


async def _run(spec: TaskSpec, listener: Callable[[Event], None]) -> AttemptOutcome:
    # The client inside a step (Flow("Other").latest_run) reads the run's own stores.
    os.environ["ASYNCFLOW_DATASTORE"], os.environ["ASYNCFLOW_METADATA"] = (
        spec.datastore,
        spec.metadata,
    )
    store = _datastore(spec.datastore, spec.metadata)
    flow_cls = load_flow(spec.code, store)
    node = dataclasses.replace(spec.node, func=dict(step_functions(flow_cls))[spec.node.name])
    graph = FlowGraph.__new__(FlowGraph)
    graph.name, graph.nodes = flow_cls.__name__, {node.name: node}
    limiter = anyio.CapacityLimiter(4)
    run = RunContext(
        flow_cls=flow_cls, graph=graph, datastore=store, record=spec.run, listeners=[listener],
        thread_limiter=limiter, task_limiter=limiter, max_num_splits=spec.max_num_splits,
        namespace=spec.namespace, param_refs=spec.param_refs, fenced=True,
        as_launched=functools.partial(as_launched, spec.code),
    )  # fmt: skip
    try:
        inp = reading_from(spec.inp, store.metadata)
        result = await one_attempt(run, inp, spec.task_id, spec.attempt, spec.started)
    except AttemptFailed as failed:
        formatted = as_launched(spec.code, failed.formatted)
        logs = {name: as_launched(spec.code, text) for name, text in failed.logs.items()}
        return AttemptOutcome.failed(failed.exception, formatted, logs, [])
    return AttemptOutcome(without_data(result.artifacts), result.foreach_items, result.chosen)
