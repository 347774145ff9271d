"""The built-in card types: ``default`` (the task, its artifacts and what the step
appended), ``blank`` (only what the step appended) and the error card shown in place
of a card that failed (``save_errors``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import MetaflowCard
from .components import Table, describe_value
from .html import component_html, escape, page

__all__ = ["BlankCard", "DefaultCard", "ErrorCard"]

#: Artifacts larger than this are listed, not loaded, by the default card.
MAX_LOADED_BYTES = 16 * 1024 * 1024


def _components_html(components: list[Any]) -> str:
    return "".join(component_html(c) for c in components)


def _task_heading(task: Any, state: str | None = None) -> str:
    rows = [("task", task.pathspec)]
    created = getattr(task, "created_at", None)
    if created is not None:
        rows.append(("started", created.strftime("%Y-%m-%d %H:%M:%S")))
    finished = getattr(task, "finished_at", None)
    if finished is not None:
        rows.append(("finished", finished.strftime("%Y-%m-%d %H:%M:%S")))
    if state is not None:
        rows.append(("state", state))
    cells = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="af-meta">{cells}</table>'


def _artifact_value(artifact: Any) -> Any:
    """The rendered value of one artifact: a table for a DataFrame, else its short repr."""
    if artifact.size > MAX_LOADED_BYTES:
        return {"name": artifact.id, "type": artifact.type,
                "data": f"({artifact.size:,} bytes, not loaded for the card)"}  # fmt: skip
    try:
        value = artifact.data
    except Exception as exc:  # pickle refused, a corrupted blob: say so, go on
        return {"name": artifact.id, "type": artifact.type, "data": f"<not loaded: {exc}>"}
    if type(value).__name__ == "DataFrame" and hasattr(value, "columns"):
        return Table.from_dataframe(value).render()
    return describe_value(value, artifact.id)


def _artifacts_html(task: Any) -> str:
    rows = []
    for artifact in task.artifacts:
        if artifact.id.startswith("_") or artifact.id == "name":
            continue
        shown = _artifact_value(artifact)
        if shown.get("type") == "table":
            value = component_html(shown)
            kind = artifact.type
        else:
            value, kind = f"<pre>{escape(shown['data'])}</pre>", shown["type"]
        rows.append(
            f"<tr><td>{escape(artifact.id)}</td><td>{escape(kind)}</td><td>{value}</td></tr>"
        )
    if not rows:
        return "<p>No artifacts.</p>"
    head = "<thead><tr><th>artifact</th><th>type</th><th>value</th></tr></thead>"
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _steps_html(graph: Mapping[str, Any] | None, here: str) -> str:
    if not graph:
        return ""
    spans = "".join(
        f'<span class="{"af-here" if name == here else ""}">{escape(name)}</span>' for name in graph
    )
    return f'<h2>Steps</h2><div class="af-steps">{spans}</div>'


class DefaultCard(MetaflowCard):
    """The task at a glance: its pathspec and times, each artifact's value (short
    ``repr``; DataFrames as tables), the flow's steps, then the step's components."""

    type = "default"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True

    def render(self, task: Any) -> str:
        """The whole card of the finished ``task``."""
        step = task.pathspec.split("/")[2]
        body = (
            f"<h1>{escape(task.pathspec)}</h1>{_task_heading(task)}"
            f"{_components_html(self.components)}"
            f"<h2>Artifacts</h2>{_artifacts_html(task)}{_steps_html(self.graph, step)}"
        )
        return page(f"Card: {task.pathspec}", body)

    def render_runtime(self, task: Any, data: Mapping[str, Any]) -> str:
        """The card while the task runs: the components so far (artifacts come at the end)."""
        body = (
            f"<h1>{escape(task.pathspec)}</h1>{_task_heading(task, 'running')}"
            f"{_components_html(self.components)}"
        )
        return page(f"Card: {task.pathspec} (running)", body)


class BlankCard(MetaflowCard):
    """Only what the step appended, under ``options={"title": ...}`` if given."""

    type = "blank"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True

    def render(self, task: Any) -> str:
        """The components, titled."""
        title = str(self.options.get("title") or "")
        heading = f"<h1>{escape(title)}</h1>" if title else ""
        return page(title or f"Card: {task.pathspec}", heading + _components_html(self.components))

    def render_runtime(self, task: Any, data: Mapping[str, Any]) -> str:
        """The same as the final card: it shows nothing but the components."""
        return self.render(task)


class ErrorCard(MetaflowCard):
    """Stands in for a card that failed to render or timed out (``save_errors=True``)."""

    type = "error"

    def render(self, task: Any, stack_trace: str = "") -> str:
        """A page saying which card failed for ``task``, and why."""
        body = (
            f"<h1>Card failed: {escape(task.pathspec)}</h1>"
            f'<div class="af-error"><pre>{escape(stack_trace)}</pre></div>'
        )
        return page(f"Card failed: {task.pathspec}", body)
