"""Inspecting stored runs from a flow script: ``python flow.py dump|logs|tag ...``.

``register(cli)`` adds the commands to a flow script's click group; the rendering
helpers are shared with the ``asyncflow`` console script.
"""

from __future__ import annotations

import functools
import pickle
import reprlib
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click

from serializers import LoadError

from .client import DataArtifact, Flow, Run, Step, Task, namespace
from .exceptions import AsyncflowException, DatastoreError, PathspecError
from .store import StoreURLs
from .store.pickling import allow_pickle
from .wording import plural

__all__ = [
    "MAX_VALUE_SIZE",
    "add_help_command",
    "artifact_lines",
    "describe_artifact",
    "echo_lines",
    "exit_with",
    "handle_errors",
    "no_pickle_option",
    "register",
    "run_lines",
    "run_status",
    "short_repr",
    "step_lines",
    "task_lines",
    "value_text",
    "when",
]

F = TypeVar("F", bound=Callable[..., Any])

#: How many characters of a value ``dump`` prints by default.
MAX_VALUE_SIZE = 1000


def exit_with(exc: AsyncflowException) -> NoReturn:
    """Print ``exc`` as the CLI shows errors (headline, message; no traceback) and exit
    with its code."""
    click.secho(exc.render(), fg="red", err=True)
    sys.exit(exc.exit_code)


def handle_errors(fn: F) -> F:
    """Render asyncflow errors at the terminal and exit with their code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        namespace(None)  # a pathspec given on the command line is read wherever it is
        try:
            return fn(*args, **kwargs)
        except PathspecError as exc:  # malformed input: a usage error, as click's own
            raise click.UsageError(exc.message) from None
        except AsyncflowException as exc:
            exit_with(exc)

    return wrapper  # type: ignore[return-value]


def add_help_command(group: click.Group) -> None:
    """Add ``help [COMMAND]...`` to ``group``: the same text as ``COMMAND --help``."""

    @group.command("help")
    @click.argument("command", nargs=-1)
    @click.pass_context
    def help_command(ctx: click.Context, command: tuple[str, ...]) -> None:
        """Show the help of the program, or of COMMAND (help tag add)."""
        parent = ctx.find_root()
        target: click.Command = parent.command
        context = parent
        for name in command:
            sub = target.get_command(context, name) if isinstance(target, click.Group) else None
            if sub is None:
                raise click.UsageError(f"no such command {' '.join(command)!r}", ctx)
            context = click.Context(sub, info_name=name, parent=context)
            target = sub
        click.echo(target.get_help(context))


# --- rendering, shared with the console script ------------------------------


def run_status(run: Run) -> str:
    """The run's status, ``crashed`` for a run whose process is gone without ending it."""
    return "crashed" if run.status == "running" and run.crashed else run.status


def when(value: datetime | None) -> str:
    """A timestamp to the second, or ``-``."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def short_repr(value: Any, limit: int = MAX_VALUE_SIZE) -> str:
    """``repr(value)`` cut to about ``limit`` characters."""
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = limit
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = max(limit // 10, 6)
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_artifact(artifact: DataArtifact, limit: int | None = MAX_VALUE_SIZE) -> str:
    """``name: type (encoding, N bytes)`` and, unless ``limit`` is None, ``= value``.

    Type and size come from the metadata (nothing is decoded); a value that cannot be
    loaded (pickle refused, plugin missing, corrupted) shows why instead.
    """
    head = f"{artifact.id}: {artifact.type} ({artifact.encoding}, {plural(artifact.size, 'byte')})"
    return head if limit is None else f"{head} = {value_text(artifact, limit)}"


def value_text(artifact: DataArtifact, limit: int = MAX_VALUE_SIZE) -> str:
    """The value's short repr, or ``<not loaded: why>`` when it cannot be loaded."""
    try:
        return short_repr(artifact.data, limit)
    except (LoadError, DatastoreError) as exc:
        return f"<not loaded: {exc}>"


def run_lines(run: Run) -> list[str]:
    """A run's summary: status, user, times, tags, parameters and steps."""
    lines = [
        f"Run {run.pathspec}",
        f"    status:      {run_status(run)}",
        f"    user:        {run.user}",
        f"    started:     {when(run.created_at)}",
        f"    finished:    {when(run.finished_at)}",
        f"    user tags:   {', '.join(sorted(run.user_tags)) or '-'}",
        f"    system tags: {', '.join(sorted(run.system_tags))}",
    ]
    if run.origin_pathspec:
        lines.append(f"    resumed from: {run.origin_pathspec}")
    for name, value in sorted(run.parameters.items()):
        lines.append(f"    parameter {name} = {value!r}")
    for step in run.steps():
        tasks = step.tasks()
        ok = sum(t.successful for t in tasks)
        lines.append(f"    step {step.id}: {plural(len(tasks), 'task')}, {ok} successful")
    return lines


def step_lines(step: Step) -> list[str]:
    """A step's tasks with their status and foreach index."""
    lines = [f"Step {step.pathspec}"]
    for task in step.tasks():
        index = f"  index {task.index}" if task.index is not None else ""
        status = "successful" if task.successful else "failed"
        lines.append(f"    task {task.id}: {status}{index}")
    return lines


def task_lines(task: Task) -> list[str]:
    """A task's status, timings, lineage and artifact list (values not loaded)."""
    parents = ", ".join(t.pathspec for t in task.parent_tasks) or "-"
    lines = [
        f"Task {task.pathspec}",
        f"    status:   {'successful' if task.successful else 'failed'}",
        f"    attempt:  {task.current_attempt}",
        f"    started:  {when(task.created_at)}",
        f"    finished: {when(task.finished_at)}",
        f"    parents:  {parents}",
    ]
    if task.index is not None:
        lines.append(f"    index:    {task.index}")
    lines += [f"    {describe_artifact(a, None)}" for a in task.artifacts]
    if task.exception:
        lines.append("    exception:")
        lines += [f"        {line}" for line in task.exception.stacktrace.rstrip().splitlines()]
    return lines


def artifact_lines(artifact: DataArtifact, limit: int = MAX_VALUE_SIZE) -> list[str]:
    """An artifact's storage details and value."""
    lines = [
        f"Artifact {artifact.pathspec}",
        f"    type:     {artifact.type}",
        f"    encoding: {artifact.encoding}",
        f"    size:     {plural(artifact.size, 'byte')} "
        f"({'inline' if artifact.inline else 'blob file'})",
        f"    sha:      {artifact.sha}",
    ]
    lines += [f"    metadata {k}: {v!r}" for k, v in sorted(artifact.metadata.items())]
    lines.append(f"    value:    {value_text(artifact, limit)}")
    return lines


def echo_lines(lines: Iterable[str]) -> None:
    """Print each line."""
    for line in lines:
        click.echo(line)


# --- flow script commands ----------------------------------------------------


def _refuse_pickle(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        allow_pickle(False)


def no_pickle_option(fn: F) -> F:
    """``--no-pickle``: refuse to load pickled values (see :mod:`asyncflow.store.pickling`)."""
    return click.option(
        "--no-pickle",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_refuse_pickle,
        help="Never unpickle a value (a pickled one shows its type and size only). "
        "Default: $ASYNCFLOW_ALLOW_PICKLE=0 refuses too.",
    )(fn)


def _tasks(flow: str, pathspec: str, root: StoreURLs) -> list[Task]:
    """The tasks named by ``run_id/step[/task_id]`` (the flow name may lead)."""
    parts = pathspec.split("/")
    if parts[0] == flow:
        parts = parts[1:]
    if len(parts) not in (2, 3):
        raise PathspecError(
            pathspec,
            f"it has {plural(len(parts), 'part')} after the flow name",
            shape="Give RUN_ID/STEP (every task of the step) or RUN_ID/STEP/TASK_ID, "
            f"e.g. 3/start or 3/start/1; the flow name may lead ({flow}/3/start)",
        )
    full = "/".join([flow, *parts])
    if len(parts) == 3:
        return [Task(full, root=root)]
    return Step(full, root=root).tasks()


@click.command()
@click.argument("pathspec")
@click.option(
    "--max-value-size",
    default=MAX_VALUE_SIZE,
    show_default=True,
    help="Characters of each value to print.",
)
@click.option("--include", default="", help="Comma-separated artifact names to show (default all).")
@click.option(
    "--private",
    is_flag=True,
    help="Also show private artifacts (names starting with '_'), as Metaflow's dump does.",
)
@click.option(
    "--file",
    "out_file",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the values to this file, pickled as {run_id/step/task_id: {name: value}}, "
    "instead of printing them (as Metaflow's dump --file does).",
)
@no_pickle_option
@click.pass_obj
@handle_errors
def dump(
    obj: Any, pathspec: str, max_value_size: int, include: str, private: bool, out_file: str | None
) -> None:
    """Print the artifacts of a task (run_id/step/task_id) or of every task of a step."""
    wanted = {name for name in include.split(",") if name}
    tasks = _tasks(obj.flow_cls.__name__, pathspec, obj.root)
    chosen = {
        t.pathspec: [
            a
            for a in t.artifacts
            if (private or not a.id.startswith("_")) and (not wanted or a.id in wanted)
        ]
        for t in tasks
    }
    if out_file is not None:
        # keyed without the flow's name, which the script implies, as Metaflow keys them
        values = {
            ps.partition("/")[2]: {a.id: a.data for a in artifacts}
            for ps, artifacts in chosen.items()
        }
        with open(out_file, "wb") as out:
            pickle.dump(values, out, protocol=pickle.HIGHEST_PROTOCOL)
        click.echo(f"Artifacts of {plural(len(values), 'task')} written to {out_file}", err=True)
        return
    for task_pathspec, artifacts in chosen.items():
        click.echo(f"Artifacts of {task_pathspec}:")
        for artifact in artifacts:
            click.echo(f"    {describe_artifact(artifact, max_value_size)}")


@click.command()
@click.argument("pathspec")
@click.option("--stdout", "streams", flag_value="stdout", help="Only what the task printed.")
@click.option("--stderr", "streams", flag_value="stderr", help="Only its error output.")
@click.option("--attempt", type=int, default=None, help="One attempt (default: the last).")
@click.pass_obj
@handle_errors
def logs(obj: Any, pathspec: str, streams: str | None, attempt: int | None) -> None:
    """Print the output of a task (run_id/step/task_id) or of every task of a step.

    stdout goes to stdout and stderr to stderr; one stream asked for (``--stderr``)
    goes to stdout, as Metaflow prints it. Several tasks are headed by their pathspec.
    """
    tasks = _tasks(obj.flow_cls.__name__, pathspec, obj.root)
    for task in tasks:
        if attempt is not None:
            task = Task(task.pathspec, attempt=attempt, root=obj.root)
        if len(tasks) > 1:
            click.echo(f"[{task.pathspec}]")
        if streams in (None, "stdout"):
            click.echo(task.stdout, nl=False)
        if streams in (None, "stderr"):
            click.echo(task.stderr, nl=False, err=streams is None)


@click.group()
def tag() -> None:
    """Add, remove, replace or list the user tags of runs."""


def _run(obj: Any, run_id: str) -> Run:
    return Run(f"{obj.flow_cls.__name__}/{run_id}", root=obj.root)


@tag.command("add")
@click.option("--run-id", required=True, help="The run to tag.")
@click.argument("tags", nargs=-1, required=True)
@click.pass_obj
@handle_errors
def tag_add(obj: Any, run_id: str, tags: tuple[str, ...]) -> None:
    """Add user tags to a run."""
    run = _run(obj, run_id)
    run.add_tags(tags)
    echo_lines(_tag_lines(run))


@tag.command("remove")
@click.option("--run-id", required=True, help="The run to untag.")
@click.argument("tags", nargs=-1, required=True)
@click.pass_obj
@handle_errors
def tag_remove(obj: Any, run_id: str, tags: tuple[str, ...]) -> None:
    """Remove user tags from a run (system tags cannot be removed)."""
    run = _run(obj, run_id)
    run.remove_tags(tags)
    echo_lines(_tag_lines(run))


@tag.command("replace")
@click.option("--run-id", required=True, help="The run to retag.")
@click.option("--remove", multiple=True, help="A user tag to remove (repeatable).")
@click.option("--add", multiple=True, help="A user tag to add (repeatable).")
@click.argument("old", required=False)
@click.argument("new", required=False)
@click.pass_obj
@handle_errors
def tag_replace(
    obj: Any,
    run_id: str,
    remove: tuple[str, ...],
    add: tuple[str, ...],
    old: str | None,
    new: str | None,
) -> None:
    """Replace user tag OLD by NEW, or remove every --remove then add every --add, in one
    step."""
    if (old is None) != (new is None):
        raise click.UsageError("give both OLD and NEW, or neither (then --remove/--add)")
    run = _run(obj, run_id)
    extra = ((old,), (new,)) if old is not None and new is not None else ((), ())
    run.replace_tags([*remove, *extra[0]], [*add, *extra[1]])
    echo_lines(_tag_lines(run))


@tag.command("list")
@click.option("--run-id", default=None, help="One run (default: every run of the flow).")
@click.option(
    "--flat",
    is_flag=True,
    help="One tag a line after a heading, on stderr, as Metaflow's tag list --flat prints.",
)
@click.option("--hide-system-tags", is_flag=True, help="Only the user tags.")
@click.pass_obj
@handle_errors
def tag_list(obj: Any, run_id: str | None, flat: bool, hide_system_tags: bool) -> None:
    """List the user and system tags of runs, newest first."""
    runs = [_run(obj, run_id)] if run_id else Flow(obj.flow_cls.__name__, root=obj.root).runs()
    if flat:
        tags = {t for run in runs for t in run.user_tags}
        if not hide_system_tags:
            tags |= {t for run in runs for t in run.system_tags}
        click.echo(f"Tags of {plural(len(runs), 'run')}:", err=True)
        for name in sorted(tags):
            click.echo(name, err=True)
        return
    for run in runs:
        lines = _tag_lines(run)
        echo_lines(lines[:2] if hide_system_tags else lines)


def _tag_lines(run: Run) -> list[str]:
    return [
        f"Run {run.pathspec}",
        f"    user tags:   {', '.join(sorted(run.user_tags)) or '-'}",
        f"    system tags: {', '.join(sorted(run.system_tags))}",
    ]


def register(cli: click.Group) -> None:
    """Add ``dump``, ``logs``, ``tag`` and ``help`` to a flow script's command group."""
    for command in (dump, logs, tag):
        cli.add_command(command)
    add_help_command(cli)
