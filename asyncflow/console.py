"""The ``asyncflow`` command: list and show stored runs, collect garbage, verify blobs.

asyncflow runs FLOW [--tag T]... [--namespace NS]
asyncflow show PATHSPEC [--no-pickle]   Flow, Flow/run, .../step, .../task or .../artifact
asyncflow gc [--grace SECONDS] [--dry-run]
asyncflow verify                 exit 1 if any blob is missing or corrupted
asyncflow ui [--port 8765] [--host 127.0.0.1] [--root DIR]   browse runs in a web browser
asyncflow copy SRC DST           copy finished runs between stores, verifying every blob
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from .cli_inspect import (
    MAX_VALUE_SIZE,
    add_help_command,
    artifact_lines,
    echo_lines,
    handle_errors,
    no_pickle_option,
    run_lines,
    run_status,
    step_lines,
    task_lines,
    when,
)
from .client import DataArtifact, Flow, Metaflow, Run, Step, Task, get_datastore, namespace
from .client._lookup import parse_pathspec
from .store import StoreURLs
from .store.maintenance import DEFAULT_GRACE, collect_garbage, verify
from .store_options import store_options
from .wording import plural

__all__ = ["cli", "echo_table", "main"]


@click.group()
@click.version_option(package_name="asyncflow", message="%(prog)s %(version)s")
@store_options
@click.pass_context
def cli(ctx: click.Context, urls: StoreURLs) -> None:
    """Inspect and maintain an asyncflow datastore."""
    ctx.obj = urls


@cli.command()
@click.pass_obj
@handle_errors
def flows(root: StoreURLs) -> None:
    """List every flow of the store with its number of runs and its latest run."""
    get_datastore(root)  # a store nobody ran a flow in is named as such
    rows = []
    for flow in Metaflow(root=root).flows:
        found = flow.runs()
        latest = found[0] if found else None
        rows.append(
            (
                flow.id,
                str(len(found)),
                latest.id if latest else "-",
                run_status(latest) if latest else "-",
                when(latest.created_at) if latest else "-",
            )
        )
    echo_table(("FLOW", "RUNS", "LATEST", "STATUS", "STARTED"), rows)


@cli.command()
@click.argument("flow", required=False)
@click.option("--tag", "tags", multiple=True, help="Only runs with this tag (repeatable).")
@click.option("--namespace", "ns", default=None, help="Only runs in this namespace (a tag).")
@click.pass_context
@handle_errors
def runs(ctx: click.Context, flow: str | None, tags: tuple[str, ...], ns: str | None) -> None:
    """List the runs of FLOW, newest first (every user's unless --namespace);
    without FLOW, list the flows."""
    if flow is None:
        ctx.invoke(flows)
        return
    namespace(ns)
    found = Flow(flow, root=ctx.obj).runs(*tags)
    rows = [
        (
            run.id,
            run_status(run),
            when(run.created_at),
            when(run.finished_at),
            run.user,
            ", ".join(sorted(run.user_tags)),
        )
        for run in found
    ]
    echo_table(("RUN", "STATUS", "STARTED", "FINISHED", "USER", "TAGS"), rows)


def echo_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Print ``rows`` under ``header`` in columns as wide as their widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


@cli.command()
@click.argument("pathspec")
@click.option(
    "--max-value-size",
    default=MAX_VALUE_SIZE,
    show_default=True,
    help="Characters of an artifact's value to print (longer values are cut).",
)
@no_pickle_option
@click.pass_obj
@handle_errors
def show(root: StoreURLs, pathspec: str, max_value_size: int) -> None:
    """Describe a flow, run, step, task or artifact by its pathspec
    (FLOW[/RUN_ID[/STEP[/TASK_ID[/ARTIFACT]]]], e.g. ArtifactFlow/3/start/1)."""
    parts = parse_pathspec(pathspec)
    if len(parts) == 1:
        found = Flow(parts[0], root=root).runs()
        rows = [(r.pathspec, run_status(r), when(r.created_at)) for r in found]
        echo_table(("RUN", "STATUS", "STARTED"), rows)
    elif len(parts) == 2:
        echo_lines(run_lines(Run(pathspec, root=root)))
    elif len(parts) == 3:
        echo_lines(step_lines(Step(pathspec, root=root)))
    elif len(parts) == 4:
        echo_lines(task_lines(Task(pathspec, root=root)))
    else:
        echo_lines(artifact_lines(DataArtifact(pathspec, root=root), max_value_size))


@cli.command()
@click.option(
    "--grace",
    type=float,
    default=DEFAULT_GRACE,
    show_default=True,
    help="Keep unreferenced blobs younger than this many seconds (a running task may "
    "still commit them).",
)
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.pass_obj
@handle_errors
def gc(root: StoreURLs, grace: float, dry_run: bool) -> None:
    """Delete blobs that no committed artifact references; safe while runs are active."""
    report = collect_garbage(get_datastore(root), grace=grace, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for blob in report.deleted:
        click.echo(f"{verb} {blob.key} ({plural(blob.size, 'byte')})")
    kept = plural(len(report.kept_recent), "unreferenced blob")
    click.echo(
        f"{verb} {plural(len(report.deleted), 'blob')} ({plural(report.freed_bytes, 'byte')}); "
        f"kept {kept} younger than {grace:g}s"
    )
    if dry_run:
        click.echo("unreferenced inline values and stale temp files are counted only when removed")
    else:
        inline, temp = plural(report.inline_deleted, "inline value"), report.temp_deleted
        click.echo(f"removed {inline} and {plural(temp, 'temp file')}")


@cli.command("verify")
@click.pass_obj
@handle_errors
def verify_command(root: str | None) -> None:
    """Recompute every blob's hash; report each missing or corrupted one and its users."""
    report = verify(get_datastore(root))
    for problem in report.problems:
        click.echo(
            f"{'inline value' if problem.inline else 'blob'} {problem.key} is {problem.problem}"
        )
        for pathspec in problem.artifacts:
            click.echo(f"    used by {pathspec}")
        if not problem.artifacts:
            click.echo("    used by no artifact")
    blobs, inline = report.checked_blobs, report.checked_inline
    checked = f"{plural(blobs, 'blob')} and {plural(inline, 'inline value')}"
    click.echo(f"checked {checked}: {plural(len(report.problems), 'problem')}")
    if not report.ok:
        sys.exit(1)


@cli.command("ui")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but this machine warns: no authentication.",
)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--root", default=None, help="The datastore to browse (default: --datastore-root).")
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Preview pickled artifacts (runs code from the store: only a trusted one).",
)
@click.pass_obj
def ui_command(
    datastore_root: str | None, host: str, port: int, root: str | None, allow_pickle: bool
) -> None:
    """Serve a read-only web browser of this datastore's flows, runs and artifacts."""
    try:
        from .ui._serve import serve
    except ImportError as exc:
        raise click.UsageError(
            f"asyncflow ui needs the ui extra: pip install 'asyncflow[ui]' ({exc})"
        ) from exc
    serve(root or datastore_root, host, port, allow_pickle)


@cli.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option(
    "--src-metadata", default=None, metavar="URL", help="SRC's metadata (default: local)."
)
@click.option(
    "--dst-metadata", default=None, metavar="URL", help="DST's metadata (default: local)."
)
@click.option("--flow", "flows", multiple=True, help="Only this flow (repeatable).")
@click.pass_obj
@handle_errors
def copy_command(
    urls: StoreURLs,
    src: str,
    dst: str,
    src_metadata: str | None,
    dst_metadata: str | None,
    flows: tuple[str, ...],
) -> None:
    """Copy the finished runs of datastore SRC to DST (directories or s3:// URLs),
    verifying every blob; running it again copies only what is new."""
    from .store import Datastore
    from .store.copy import copy_runs

    source = Datastore.open(src, metadata=src_metadata or "local")
    target = Datastore.open(dst, metadata=dst_metadata or "local")
    try:
        report = copy_runs(source, target, flows)
    finally:
        source.close()
        target.close()
    click.echo(
        f"copied {plural(report.runs_copied, 'run')}, {plural(report.blobs_copied, 'blob')}, "
        f"{plural(report.bytes_copied, 'byte')}; {plural(report.runs_present, 'run')} and "
        f"{plural(report.blobs_present, 'blob')} were there already; "
        f"{plural(report.runs_running, 'running run')} left for later"
    )


add_help_command(cli)


def main() -> None:
    """Entry point of the ``asyncflow`` console script."""
    cli.main(prog_name="asyncflow")


if __name__ == "__main__":
    main()
