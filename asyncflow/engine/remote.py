"""The engine's side of an executor: a run's executors, its code package, one remote attempt.

The engine stays the scheduler: it fences the attempt, sends a task spec, waits
for the outcome without blocking its loop, and applies ``@timeout`` itself; the
attempt loop around it (retries, ``@catch``) is the same as for a task run here.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import anyio

from ..graph import StepNode
from .context import RunContext
from .records import TaskInput

if TYPE_CHECKING:
    from ..decorators import TimeoutSpec
    from ..executors import Executor
    from ..executors.spec import AttemptOutcome, CodeRef

__all__ = ["RunExecutors", "fence", "submit_attempt"]


class RunExecutors:
    """Which executor runs which step of one run, and the run's code package.

    ``default`` runs every step (``None``: in this process); ``isolated`` is made on
    first use for the steps marked ``@isolated`` when there is no default.
    """

    def __init__(self, default: Executor | None, isolated: Any = None) -> None:
        self.default = default
        self._make_isolated = isolated
        self._isolated: Executor | None = None
        self._code: CodeRef | None = None
        self._lock = anyio.Lock()

    async def for_step(self, isolated: bool) -> Executor | None:
        """The executor of a step, started if need be; ``None`` runs it in this process."""
        if self.default is not None or not isolated:
            return self.default
        async with self._lock:
            if self._isolated is None:
                executor: Executor = self._make_isolated()
                await executor.start()
                self._isolated = executor
        return self._isolated

    async def code(self, run: RunContext) -> CodeRef:
        """The run's code package, stored on first use."""
        from ..executors.code import package_flow

        async with self._lock:
            if self._code is None:
                self._code = await anyio.to_thread.run_sync(
                    package_flow, run.flow_cls, run.datastore
                )
        return self._code

    async def aclose(self) -> None:
        """Stop the executor made for ``@isolated`` steps (the default is the caller's)."""
        if self._isolated is not None:
            with anyio.CancelScope(shield=True):
                await self._isolated.aclose()


def _shipped_separately(*args: Any) -> None:
    """Stands for a step's function in a task spec: the worker takes it from the code."""
    raise AssertionError("a step function is never called from a task spec")


async def fence(run: RunContext, task_id: int, attempt: int) -> None:
    """From now on only ``attempt`` of the task may commit."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            run.datastore.metadata.fence_attempt, run.record.run_id, task_id, attempt,
            limiter=run.thread_limiter,
        )  # fmt: skip


async def submit_attempt(
    run: RunContext,
    executor: Executor,
    node: StepNode,
    inp: TaskInput,
    task_id: int,
    attempt: int,
    started: float,
    limit: TimeoutSpec | None,
) -> AttemptOutcome:
    """Run one attempt on ``executor`` within ``limit``; events are re-emitted here."""
    # Here, not at the top: a run whose tasks all run in its own process never needs
    # task specs, nor cloudpickle (which imports as much again as the rest of the run).
    from ..executors.spec import TaskSpec, spec_input

    assert run.executors is not None
    spec = TaskSpec(
        datastore=run.datastore.urls.datastore,
        metadata=run.datastore.urls.metadata,
        code=await run.executors.code(run),
        run=run.record,
        namespace=run.namespace,
        param_refs=run.param_refs,
        node=dataclasses.replace(node, func=_shipped_separately),
        task_id=task_id,
        attempt=attempt,
        started=started,
        inp=spec_input(inp),
        max_num_splits=run.max_num_splits,
    )
    await fence(run, task_id, attempt)
    if limit is None:
        outcome = await executor.submit(spec, run.emit)
    else:
        from ..exceptions import StepTimeoutError

        with anyio.move_on_after(limit.seconds) as scope:
            outcome = await executor.submit(spec, run.emit)
        if scope.cancelled_caught:
            raise StepTimeoutError(node.name, limit.describe())
    for event in outcome.events:
        run.emit(event)
    return outcome
