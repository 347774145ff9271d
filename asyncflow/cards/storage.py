"""Where cards live: each card's HTML is a blob in the datastore's blob store, under
its content key (BLAKE3, like artifacts), and its record (task, hash, type, id, blob
key, size, time) is a row of the metadata store's ``cards`` table. Both go through the
store protocols, so cards live wherever the datastore does (local files, S3, PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import time

from ..exceptions import CorruptedBlobError
from ..store import CardRecord, Datastore, TaskRecord, content_key

__all__ = ["copy_cards", "read_card_html", "save_card", "task_cards"]


def save_card(
    datastore: Datastore,
    task: TaskRecord,
    hash: str,
    type: str,
    id: str | None,
    html: str,
    *,
    runtime: bool = False,
) -> CardRecord:
    """Store ``html`` as a card of ``task`` (replacing the card of the same hash)."""
    data = html.encode("utf-8")
    key = datastore.blobs.write([data])
    datastore.lease.add(key)  # gc keeps it until the record below references it
    try:
        record = CardRecord(
            task.flow, task.run_id, task.step, task.task_id, hash, type, id, key, len(data),
            time.time(), runtime,
        )  # fmt: skip
        datastore.metadata.put_card(record)
    finally:
        datastore.lease.release([key])
    return record


def task_cards(datastore: Datastore, task: TaskRecord) -> list[CardRecord]:
    """The cards of ``task``, in the order they were first stored."""
    return datastore.metadata.list_cards(task.flow, task.run_id, task.task_id)


def read_card_html(datastore: Datastore, card: CardRecord) -> str:
    """A card's HTML, checked against its content key."""
    where = f"card {card.hash} of {card.task_pathspec}"
    try:
        view = datastore.blobs.get(card.key)
    except CorruptedBlobError as exc:
        raise CorruptedBlobError(card.key, exc.problem, where) from exc
    if view.nbytes != card.size or content_key([view]) != card.key:
        raise CorruptedBlobError(card.key, "corrupted: its content does not match its hash", where)
    return bytes(view).decode("utf-8", errors="replace")


def copy_cards(datastore: Datastore, origin: TaskRecord, clone: TaskRecord) -> int:
    """Give a resumed run's ``clone`` of ``origin`` the origin's cards (same blobs)."""
    cards = task_cards(datastore, origin)
    for card in cards:
        datastore.metadata.put_card(
            dataclasses.replace(
                card, flow=clone.flow, run_id=clone.run_id, step=clone.step, task_id=clone.task_id
            )
        )
    return len(cards)
