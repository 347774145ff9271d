"""The ``asyncflow`` command: list and show stored runs, collect garbage, verify blobs.

asyncflow runs FLOW [--tag T]... [--namespace NS]
asyncflow show PATHSPEC [--no-pickle]   Flow, Flow/run, .../step, .../task or .../artifact
asyncflow gc [--grace SECONDS] [--dry-run]
asyncflow verify                 exit 1 if any blob is missing or corrupted
asyncflow ui [--port 8765] [--host 127.0.0.1] [--root DIR]   browse runs in a web browser
"""

from __future__ import annotations

import sys

import click

from .cli_inspect import (
    MAX_VALUE_SIZE,
    artifact_lines,
    echo_lines,
    handle_errors,
    no_pickle_option,
    run_lines,
    step_lines,
    task_lines,
    when,
)
from .client import DataArtifact, Flow, Run, Step, Task, get_datastore, namespace
from .exceptions import NotFoundError
from .store import StoreURLs
from .store.maintenance import DEFAULT_GRACE, collect_garbage, verify
from .store_options import store_options

__all__ = ["cli", "main"]


@click.group()
@store_options
@click.pass_context
def cli(ctx: click.Context, urls: StoreURLs) -> None:
    """Inspect and maintain an asyncflow datastore."""
    ctx.obj = urls


@cli.command()
@click.argument("flow")
@click.option("--tag", "tags", multiple=True, help="Only runs with this tag (repeatable).")
@click.option("--namespace", "ns", default=None, help="Only runs in this namespace (a tag).")
@click.pass_obj
@handle_errors
def runs(root: StoreURLs, flow: str, tags: tuple[str, ...], ns: str | None) -> None:
    """List the runs of FLOW, newest first (every user's unless --namespace)."""
    namespace(ns)
    found = Flow(flow, root=root).runs(*tags)
    click.echo(f"{'RUN':<6} {'STATUS':<11} {'STARTED':<19}  {'FINISHED':<19}  {'USER':<12} TAGS")
    for run in found:
        click.echo(
            f"{run.id:<6} {run.status:<11} {when(run.created_at):<19}  "
            f"{when(run.finished_at):<19}  {run.user:<12} {', '.join(sorted(run.user_tags))}"
        )


@cli.command()
@click.argument("pathspec")
@click.option("--max-value-size", default=MAX_VALUE_SIZE, show_default=True)
@no_pickle_option
@click.pass_obj
@handle_errors
def show(root: StoreURLs, pathspec: str, max_value_size: int) -> None:
    """Describe a flow, run, step, task or artifact by its pathspec."""
    parts = pathspec.strip("/").split("/")
    if len(parts) == 1:
        flow = Flow(parts[0], root=root)
        echo_lines(f"{r.pathspec}  {r.status}  {when(r.created_at)}" for r in flow.runs())
    elif len(parts) == 2:
        echo_lines(run_lines(Run(pathspec, root=root)))
    elif len(parts) == 3:
        echo_lines(step_lines(Step(pathspec, root=root)))
    elif len(parts) == 4:
        echo_lines(task_lines(Task(pathspec, root=root)))
    elif len(parts) == 5:
        echo_lines(artifact_lines(DataArtifact(pathspec, root=root), max_value_size))
    else:
        raise NotFoundError("object", pathspec, hint="; a pathspec has 1 to 5 parts")


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
    verb = "would delete" if dry_run else "deleted"
    for blob in report.deleted:
        click.echo(f"{verb} {blob.key} ({blob.size} bytes)")
    click.echo(
        f"{verb} {len(report.deleted)} blob(s), {report.freed_bytes} bytes; "
        f"kept {len(report.kept_recent)} unreferenced blob(s) younger than {grace:g}s; "
        f"removed {report.inline_deleted} inline value(s) and {report.temp_deleted} temp file(s)"
    )


@cli.command("verify")
@click.pass_obj
@handle_errors
def verify_command(root: str | None) -> None:
    """Recompute every blob's hash; report each missing or corrupted one and its users."""
    report = verify(get_datastore(root))
    for problem in report.problems:
        click.echo(f"blob {problem.key} is {problem.problem}")
        for pathspec in problem.artifacts:
            click.echo(f"    used by {pathspec}")
        if not problem.artifacts:
            click.echo("    used by no artifact")
    click.echo(f"checked {report.checked} blob(s): {len(report.problems)} problem(s)")
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


def main() -> None:
    """Entry point of the ``asyncflow`` console script."""
    cli.main(prog_name="asyncflow")


if __name__ == "__main__":
    main()
