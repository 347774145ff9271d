"""Copy runs between datastores (local to S3 + PostgreSQL and back), verifying every blob.

A copied run gets a new run id in the destination and the system tag
``copied_from:<source datastore>#<Flow>/<run id>``; a run that already carries it is
skipped, so copying again copies nothing new. A run keeps its times, graph, every
attempt of its tasks with their logs, its cards, and (when its origin was copied too)
the run it resumed. Blobs are content-addressed: one the destination has is not sent
again. Every value is hashed on the way and a damaged one
stops the copy of its run with an error naming the artifact. Runs still running are
left for a later copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import CorruptedBlobError
from ..wording import plural
from .blobs import content_key
from .datastore import Datastore
from .records import ArtifactRef, RunRecord

__all__ = ["COPIED_FROM", "CopyReport", "copy_runs"]

COPIED_FROM = "copied_from:"


@dataclass
class CopyReport:
    """What :func:`copy_runs` did."""

    runs_copied: int = 0
    runs_present: int = 0
    runs_running: int = 0
    blobs_copied: int = 0
    blobs_present: int = 0
    bytes_copied: int = 0


def copy_runs(src: Datastore, dst: Datastore, flows: Sequence[str] = ()) -> CopyReport:
    """Copy every finished run of ``flows`` (default: every flow) from ``src`` to ``dst``."""
    report = CopyReport()
    for flow in flows or src.metadata.list_flows():
        copies = _copied_here(dst, flow, f"{COPIED_FROM}{src.urls.datastore}#{flow}/")
        for record in reversed(src.metadata.list_runs(flow)):  # oldest first
            if record.run_id in copies:
                report.runs_present += 1
            elif record.status == "running":
                report.runs_running += 1
            else:
                copies[record.run_id] = _copy_run(src, dst, record, copies, report)
                report.runs_copied += 1
    return report


def _copied_here(dst: Datastore, flow: str, prefix: str) -> dict[int, int]:
    """Source run id to destination run id, for the runs of ``flow`` already copied (their
    tag starts with ``prefix``)."""
    return {
        int(tag[len(prefix) :]): run.run_id
        for run in dst.metadata.list_runs(flow)
        for tag in run.system_tags
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit()
    }


def _copy_run(
    src: Datastore, dst: Datastore, record: RunRecord, copies: dict[int, int], report: CopyReport
) -> int:
    """Copy one run, with its graph, times, every attempt and card; its id in ``dst``."""
    meta, flow, run_id = src.metadata, record.flow, record.run_id
    tasks = meta.list_tasks(flow, run_id)
    staged = [
        [_stage(src, dst, ref, f"{task.pathspec}/{ref.name}", report)
         for ref in meta.list_artifacts(flow, run_id, task.task_id)]
        for task in tasks
    ]  # fmt: skip
    cards = [meta.list_cards(flow, run_id, task.task_id) for task in tasks]
    for task, task_cards in zip(tasks, cards, strict=True):
        for card in task_cards:
            _stage_blob(
                src, dst, card.key, card.size, f"{task.pathspec} (card {card.hash})", report
            )
    # Records only once every blob is in place: a copy cut short leaves no run behind.
    origin = None if record.origin_run_id is None else copies.get(record.origin_run_id)
    copy = dst.metadata.create_run(
        flow, record.user, record.params, record.tags,
        [*record.system_tags, f"{COPIED_FROM}{src.urls.datastore}#{record.pathspec}"],
        origin, meta.get_run_graph(run_id), created_at=record.created_at,
    )  # fmt: skip
    attempts = meta.list_attempts(run_id, [t.task_id for t in tasks])
    for task, refs, task_cards in zip(tasks, staged, cards, strict=True):
        started = task.started_at
        for a in (a for a in attempts if a.task_id == task.task_id):
            if a.attempt == task.attempt:
                started = a.started_at  # the final attempt commits with the task
            else:
                logs = _logs(meta, flow, run_id, task.task_id, a.attempt)
                dst.metadata.put_attempt(copy.run_id, a, logs)
        logs = _logs(meta, flow, run_id, task.task_id, task.attempt)
        moved = dataclasses.replace(task, run_id=copy.run_id, attempt_started_at=started)
        dst.commit_task(moved, refs, logs)
        for card in task_cards:
            dst.metadata.put_card(dataclasses.replace(card, run_id=copy.run_id))
    dst.metadata.finish_run(
        flow, copy.run_id, record.status, record.exception,
        _renumbered(record.failed_pathspec, run_id, copy.run_id),
        finished_at=record.finished_at,
    )  # fmt: skip
    return copy.run_id


def _logs(meta: Any, flow: str, run_id: int, task_id: int, attempt: int) -> dict[str, str]:
    return {s: meta.get_logs(flow, run_id, task_id, s, attempt) for s in ("stdout", "stderr")}


def _stage(
    src: Datastore, dst: Datastore, ref: ArtifactRef, where: str, report: CopyReport
) -> ArtifactRef:
    """The artifact ready to commit in ``dst``: its blob verified and stored there."""
    if ref.inline:
        data = ref.data if ref.data is not None else src.metadata.get_inline(ref.key)
        if data is None:
            raise CorruptedBlobError(ref.key, "missing from the metadata database", where)
        _verify(ref.key, ref.size, memoryview(data), where)
        return ArtifactRef(
            ref.name, ref.key, ref.encoding, ref.size, ref.type, ref.metadata, True, data
        )
    _stage_blob(src, dst, ref.key, ref.size, where, report)
    return ref


def _stage_blob(
    src: Datastore, dst: Datastore, key: str, size: int, where: str, report: CopyReport
) -> None:
    """Store blob ``key`` in ``dst`` (claimed there until committed), verified, unless
    it is there already."""
    dst.lease.add(key)  # claimed before it is looked for, as every writer does
    if dst.blobs.exists(key):
        report.blobs_present += 1
        return
    view = src.blobs.get(key)
    try:
        _verify(key, size, view, where)
        dst.blobs.put(key, [view])
    finally:
        view.release()
    report.blobs_copied += 1
    report.bytes_copied += size


def _verify(key: str, size: int, view: memoryview, where: str) -> None:
    if view.nbytes != size:
        raise CorruptedBlobError(
            key, f"corrupted: {plural(view.nbytes, 'byte')} stored, {size} expected", where
        )
    if content_key([view]) != key:
        raise CorruptedBlobError(key, "corrupted: its content does not match its hash", where)


def _renumbered(pathspec: str | None, old: int, new: int) -> str | None:
    if pathspec is None:
        return None
    parts = pathspec.split("/")
    if len(parts) > 1 and parts[1] == str(old):
        parts[1] = str(new)
    return "/".join(parts)
