"""Copy runs between datastores (local to S3 + PostgreSQL and back), verifying every blob.

A copied run gets a new run id in the destination and the system tag
``copied_from:<source datastore>#<Flow>/<run id>``; a run that already carries it is
skipped, so copying again copies nothing new. Blobs are content-addressed: one the
destination has is not sent again. Every value is hashed on the way and a damaged one
stops the copy of its run with an error naming the artifact. Runs still running are
left for a later copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
        present = _copied_here(dst, flow)
        for record in reversed(src.metadata.list_runs(flow)):  # oldest first
            origin = f"{COPIED_FROM}{src.urls.datastore}#{record.pathspec}"
            if origin in present:
                report.runs_present += 1
            elif record.status == "running":
                report.runs_running += 1
            else:
                _copy_run(src, dst, record, origin, report)
                report.runs_copied += 1
    return report


def _copied_here(dst: Datastore, flow: str) -> set[str]:
    return {
        tag
        for run in dst.metadata.list_runs(flow)
        for tag in run.system_tags
        if tag.startswith(COPIED_FROM)
    }


def _copy_run(
    src: Datastore, dst: Datastore, record: RunRecord, origin: str, report: CopyReport
) -> None:
    tasks = src.metadata.list_tasks(record.flow, record.run_id)
    staged = [
        [_stage(src, dst, ref, f"{task.pathspec}/{ref.name}", report)
         for ref in src.metadata.list_artifacts(record.flow, record.run_id, task.task_id)]
        for task in tasks
    ]  # fmt: skip
    # Records only once every blob is in place: a copy cut short leaves no run behind.
    meta = dst.metadata
    copy = meta.create_run(
        record.flow, record.user, record.params, record.tags, [*record.system_tags, origin]
    )
    for task, refs in zip(tasks, staged, strict=True):
        task.run_id = copy.run_id
        logs = {
            stream: src.metadata.get_logs(record.flow, record.run_id, task.task_id, stream)
            for stream in ("stdout", "stderr")
        }
        dst.commit_task(task, refs, logs)
    meta.finish_run(
        record.flow, copy.run_id, record.status, record.exception,
        _renumbered(record.failed_pathspec, record.run_id, copy.run_id),
    )  # fmt: skip


def _stage(
    src: Datastore, dst: Datastore, ref: ArtifactRef, where: str, report: CopyReport
) -> ArtifactRef:
    """The artifact ready to commit in ``dst``: its blob verified and stored there."""
    if ref.inline:
        data = ref.data if ref.data is not None else src.metadata.get_inline(ref.key)
        if data is None:
            raise CorruptedBlobError(ref.key, "missing from the metadata database", where)
        _verify(ref, memoryview(data), where)
        return ArtifactRef(
            ref.name, ref.key, ref.encoding, ref.size, ref.type, ref.metadata, True, data
        )
    dst.lease.add(ref.key)  # claimed before it is looked for, as every writer does
    if dst.blobs.exists(ref.key):
        report.blobs_present += 1
        return ref
    view = src.blobs.get(ref.key)
    try:
        _verify(ref, view, where)
        dst.blobs.put(ref.key, [view])
    finally:
        view.release()
    report.blobs_copied += 1
    report.bytes_copied += ref.size
    return ref


def _verify(ref: ArtifactRef, view: memoryview, where: str) -> None:
    if view.nbytes != ref.size:
        raise CorruptedBlobError(
            ref.key, f"corrupted: {plural(view.nbytes, 'byte')} stored, {ref.size} expected", where
        )
    if content_key([view]) != ref.key:
        raise CorruptedBlobError(ref.key, "corrupted: its content does not match its hash", where)


def _renumbered(pathspec: str | None, old: int, new: int) -> str | None:
    if pathspec is None:
        return None
    parts = pathspec.split("/")
    if len(parts) > 1 and parts[1] == str(old):
        parts[1] = str(new)
    return "/".join(parts)
