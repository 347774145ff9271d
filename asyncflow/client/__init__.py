"""The client API: read flows, runs, steps, tasks and artifacts from any process.

Names and behaviour follow Metaflow's client: ``Metaflow``, ``Flow``, ``Run``,
``Step``, ``Task``, ``DataArtifact``, and ``namespace``/``get_namespace``/
``default_namespace``. Listing reads metadata only; an artifact's value is
decoded on first access, once per client object.

Every call here blocks on the disk. From an event loop, use the awaitable
variants (``await flow.alatest_run()``, ``await run.adata()``,
``await task.data.aget("x")``, ``await artifact.aload()``) or wrap any client
expression in :func:`in_thread`::

    value = await in_thread(lambda: Flow("X")["3"]["start"].task.data.x)
"""

from __future__ import annotations

from ..tags import MAX_TAG_LENGTH
from ._lookup import get_datastore, in_thread
from ._namespaces import default_namespace, get_namespace, namespace
from ._runs import Flow, Metaflow, Run, Step
from ._tasks import Artifacts, Attempt, DataArtifact, Metadata, MetaflowData, Task

__all__ = [
    "MAX_TAG_LENGTH",
    "Artifacts",
    "Attempt",
    "DataArtifact",
    "Flow",
    "Metadata",
    "Metaflow",
    "MetaflowData",
    "Run",
    "Step",
    "Task",
    "default_namespace",
    "get_datastore",
    "get_namespace",
    "in_thread",
    "namespace",
]
