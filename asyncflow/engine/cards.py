"""The engine's side of ``@card``: a step with cards gets them for each attempt, and
they are rendered once the task commits. Steps without ``@card`` import nothing of
:mod:`asyncflow.cards`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..graph import StepNode
from ..store import TaskRecord
from .context import RunContext

if TYPE_CHECKING:
    from ..cards.runtime import TaskCards

__all__ = ["finish_cards", "open_cards"]


def open_cards(run: RunContext, node: StepNode, record: TaskRecord) -> TaskCards | None:
    """The cards of one attempt of a task of ``node``, or None if the step has none."""
    specs = [s for s in getattr(node.func, "decorators", ()) if getattr(s, "name", None) == "card"]
    if not specs:
        return None
    from ..cards.decorator import card_specs
    from ..cards.runtime import TaskCards

    return TaskCards(card_specs(node.func), run.datastore, record, run.graph)


async def finish_cards(run: RunContext, cards: TaskCards, record: TaskRecord) -> None:
    """Render and store the cards of the committed task ``record``; never raises."""
    from ..client import Task

    try:
        await cards.finish(Task._from_record(record, run.datastore))
    except Exception as exc:  # cards never fail a task
        print(f"[@card WARNING] the cards of {record.pathspec} failed: {exc}", file=sys.stderr)
