"""``python flow.py card get|list|view PATHSPEC``: read a task's cards from the command line.

PATHSPEC is ``step`` (in the latest run), ``run_id/step`` or ``run_id/step/task_id``
(the flow's name may lead). ``--type``, ``--id`` and ``--hash`` (a prefix or part of
the hash is enough) narrow the cards down.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..cli_inspect import handle_errors
from ..client import Flow, Step, Task
from ..exceptions import AsyncflowException, NotFoundError
from .client import Card, get_cards
from .exceptions import CardNotFoundError

__all__ = ["card_group", "register"]


def _tasks(obj: Any, pathspec: str | None) -> list[Task]:
    flow = obj.flow_cls.__name__
    parts = [p for p in (pathspec or "").strip("/").split("/") if p]
    if parts and parts[0] == flow and len(parts) > 1:
        parts = parts[1:]
    if len(parts) <= 1:
        run = Flow(flow, root=obj.root).latest_run
        if run is None:
            raise NotFoundError("run", f"{flow}/latest", hint="; no run of this flow yet")
        steps = [run[parts[0]]] if parts else list(run)
        return [task for step in steps for task in step.tasks()]
    full = "/".join([flow, *parts])
    if len(parts) == 2:
        return Step(full, root=obj.root).tasks()
    if len(parts) == 3:
        return [Task(full, root=obj.root, _namespace_check=False)]
    raise NotFoundError("task", full, hint="; give step, run_id/step or run_id/step/task_id")


def _cards(obj: Any, pathspec: str | None, type: str | None, id: str | None,
           hash: str | None) -> list[tuple[Task, list[Card]]]:  # fmt: skip
    found = []
    for task in _tasks(obj, pathspec):
        cards = [c for c in get_cards(task, id=id, type=type) if hash is None or hash in c.hash]
        found.append((task, cards))
    return found


def _one(obj: Any, pathspec: str, type: str | None, id: str | None, hash: str | None) -> Card:
    found = _cards(obj, pathspec, type, id, hash)
    cards = [card for _, tc in found for card in tc]
    where = found[0][0].pathspec if len(found) == 1 else f"{obj.flow_cls.__name__}/{pathspec}"
    if not cards:
        raise CardNotFoundError(where, type=type, id=id, hash=hash)
    if len(cards) > 1:
        listed = "\n    ".join(_card_line(c) for c in cards)
        raise _Ambiguous(where, len(cards), listed)
    return cards[0]


class _Ambiguous(AsyncflowException):
    headline = "Several cards match"

    def __init__(self, where: str, count: int, listed: str) -> None:
        super().__init__(f"{count} cards of {where} match; choose one with --hash, --id or "
                         f"--type:\n    {listed}")  # fmt: skip


def _card_line(card: Card) -> str:
    return f"{card.pathspec}  type {card.type}  id {card.id or '-'}  hash {card.hash}"


_QUERY = [
    click.option("--type", default=None, help="Only cards of this type."),
    click.option("--id", "card_id", default=None, help="Only the card with this id."),
    click.option("--hash", "card_hash", default=None, help="Only the card whose hash has this."),
    click.option("--follow-resumed/--no-follow-resumed", default=True, hidden=True,
                 help="Accepted (Metaflow): a resumed task already carries its origin's cards."),
]  # fmt: skip


def _query(fn: Any) -> Any:
    for option in reversed(_QUERY):
        fn = option(fn)
    return fn


@click.group("card")
def card_group() -> None:
    """Get, list or view the cards of tasks."""


@card_group.command("get")
@click.argument("pathspec")
@click.argument("path", required=False)
@_query
@click.pass_obj
@handle_errors
def card_get(obj: Any, pathspec: str, path: str | None, type: str | None, card_id: str | None,
             card_hash: str | None, follow_resumed: bool) -> None:  # fmt: skip
    """Print one card's HTML, or write it to PATH."""
    html = _one(obj, pathspec, type, card_id, card_hash).get()
    if path is None:
        click.echo(html, nl=False)
        return
    with open(path, "w", encoding="utf-8") as out:
        out.write(html)


@card_group.command("view")
@click.argument("pathspec")
@_query
@click.pass_obj
@handle_errors
def card_view(obj: Any, pathspec: str, type: str | None, card_id: str | None,
              card_hash: str | None, follow_resumed: bool) -> None:  # fmt: skip
    """Open one card in the web browser (the file it opens is printed)."""
    card = _one(obj, pathspec, type, card_id, card_hash)
    path = card.view()
    click.echo(path)


@card_group.command("list")
@click.argument("pathspec", required=False)
@_query
@click.option("--as-json", is_flag=True, help="Print the cards as JSON.")
@click.option("--file", "file", default=None, help="Write the JSON listing to this file.")
@click.pass_obj
@handle_errors
def card_list(obj: Any, pathspec: str | None, type: str | None, card_id: str | None,
              card_hash: str | None, follow_resumed: bool, as_json: bool,
              file: str | None) -> None:  # fmt: skip
    """List the cards of a task, of a step's tasks, or (no PATHSPEC) of the latest run."""
    found = [(t, cards) for t, cards in _cards(obj, pathspec, type, card_id, card_hash) if cards]
    if not found:
        raise CardNotFoundError(f"{obj.flow_cls.__name__}/{pathspec or 'latest'}", type=type,
                                id=card_id, hash=card_hash)  # fmt: skip
    listing = [
        {"pathspec": task.pathspec,
         "cards": [{"id": c.id, "hash": c.hash, "type": c.type,
                    "filename": c.path.rsplit("/", 1)[-1]} for c in cards]}
        for task, cards in found
    ]  # fmt: skip
    if as_json or file:
        text = json.dumps(listing[0] if len(listing) == 1 and pathspec else listing, indent=2)
        if file:
            with open(file, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            click.echo(text)
        return
    for task, cards in found:
        click.echo(f"Cards of {task.pathspec}:")
        for card in cards:
            click.echo(f"    type {card.type}  id {card.id or '-'}  hash {card.hash}")


def register(cli: click.Group) -> None:
    """Add the ``card`` command group to a flow script's command line."""
    cli.add_command(card_group)
