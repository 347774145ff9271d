"""The command line of a flow script: ``python flow.py run|show|check``."""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from ._gcpause import gc_paused
from .configs import given_from_environment
from .decorators import attach_to_every_step
from .exceptions import AsyncflowException, FlowDefinitionError, ParameterError
from .flowspec import FlowSpec
from .graph import FlowGraph, StepNode, step_functions, to_dot, to_mermaid
from .lint import lint
from .parameter_options import add_parameter_options, parameter_values
from .store import Datastore, RunRecord, StoreURLs
from .store_options import FSYNC_OPTION, store_options
from .supervisor import Supervisor, report_ended, report_run, supervised
from .users import current_user

if TYPE_CHECKING:
    from .engine import Engine, RunResult
    from .events import Event

__all__ = ["cli", "main"]


class _Obj:
    def __init__(
        self,
        flow_cls: type[FlowSpec],
        root: StoreURLs,
        quiet: bool = False,
        branch: str | None = None,
        production: bool = False,
        configs: dict[str, Any] | None = None,
    ) -> None:
        self.flow_cls = flow_cls
        self.root = root
        self.quiet = quiet
        self.branch, self.production = branch, production
        #: Config values given on the command line or in the environment, by name.
        self.configs = configs or {}

    def echo(self, message: str) -> None:
        """Print a progress message unless ``--quiet``."""
        if not self.quiet:
            click.echo(message)


def _lint_or_exit(flow_cls: type[FlowSpec]) -> FlowGraph:
    try:
        graph = FlowGraph(flow_cls)
    except (OSError, SyntaxError) as exc:
        raise click.ClickException(f"cannot read the source of {flow_cls.__name__}: {exc}") from exc
    findings = lint(graph)
    if findings:
        click.secho("Validating your flow...", err=True)
        for finding in findings:
            click.secho(f"    {finding}", fg="red", err=True)
        sys.exit(1)
    return graph


_MAX_WORKERS = click.option(
    "--max-workers", type=click.IntRange(min=1), default=16, show_default=True,
    help="Tasks running at once.",
)  # fmt: skip
_MAX_NUM_SPLITS = click.option(
    "--max-num-splits", type=click.IntRange(min=1), default=100, show_default=True,
    help="Largest foreach allowed.",
)  # fmt: skip


# Metaflow's sidecars for events and metrics; asyncflow has neither, so each is a no-op.
_SIDECARS = ["nullSidecarLogger", "debugLogger", "nullSidecarMonitor", "debugMonitor"]


class _FlowCommands(click.Group):
    """A flow script's commands. Those reading the store (``dump``, ``logs``, ``tag``,
    ``help``, ``card``) are added when one is looked up or listed: ``run`` never imports
    the client or the cards' command line (a few percent of a small run's start)."""

    _readers_added = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and not self._readers_added:
            self._add_readers()
            found = super().get_command(ctx, cmd_name)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_readers()
        return super().list_commands(ctx)

    def _add_readers(self) -> None:
        if self._readers_added:
            return
        self._readers_added = True
        from .cards.cli import register as register_card_commands
        from .cli_inspect import register as register_inspect_commands

        register_inspect_commands(self)  # dump, logs, tag, help (asyncflow/cli_inspect.py)
        register_card_commands(self)  # card get|list|view (asyncflow/cards/cli.py)


@click.group(cls=_FlowCommands)
@click.version_option(package_name="asyncflow", message="%(prog)s: asyncflow %(version)s")
@store_options
# Metaflow's command lines for local mode (`python flow.py --no-pylint run`) work unchanged.
@click.option("--pylint/--no-pylint", default=True, help="Accepted; asyncflow runs no pylint.")
@click.option(
    "--datastore", type=click.Choice(["local", "s3"]), default="local",
    help="Accepted; --datastore-root chooses the store.",
)  # fmt: skip
@click.option("--environment", type=click.Choice(["local"]), default="local", help="Only local.")
@click.option(
    "--event-logger", type=click.Choice(_SIDECARS), default="nullSidecarLogger", help="Accepted."
)
@click.option(
    "--monitor", type=click.Choice(_SIDECARS), default="nullSidecarMonitor", help="Accepted."
)
@click.option("--quiet", is_flag=True, help="Print only failures, not progress or task output.")
@click.option(
    "--branch", default=None, envvar="METAFLOW_BRANCH",
    help="@project: run on branch test.BRANCH (prod.BRANCH with --production) "
    "instead of user.<you> ($METAFLOW_BRANCH).",
)  # fmt: skip
@click.option(
    "--production", is_flag=True, envvar="METAFLOW_PRODUCTION",
    help="@project: run on the production branch ($METAFLOW_PRODUCTION).",
)  # fmt: skip
@click.option(
    "--config", "config_files", multiple=True, type=(str, click.Path(dir_okay=False)),
    metavar="NAME FILE", help="Read config NAME from FILE ($METAFLOW_FLOW_CONFIG, repeatable).",
)  # fmt: skip
@click.option(
    "--config-value", "config_values", multiple=True, type=(str, str), metavar="NAME TEXT",
    help="Config NAME is TEXT ($METAFLOW_FLOW_CONFIG_VALUE, repeatable).",
)  # fmt: skip
@click.pass_context
def cli(
    ctx: click.Context,
    /,
    urls: StoreURLs,
    quiet: bool,
    branch: str | None,
    production: bool,
    config_files: tuple[tuple[str, str], ...],
    config_values: tuple[tuple[str, str], ...],
    **_metaflow_options: Any,
) -> None:
    """Run and inspect this flow."""
    try:
        configs = given_from_environment()
        configs.update({name: _read_config(name, path) for name, path in config_files})
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from exc
    configs.update(dict(config_values))
    ctx.obj = _Obj(ctx.obj, urls, quiet, branch, production, configs)


def _read_config(name: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as text:
            return text.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read config {name!r} from {path}: {exc}") from exc


_EXECUTOR = click.option(
    "--executor", default=None, metavar="NAME", envvar="ASYNCFLOW_EXECUTOR",
    help="Where tasks run: processes[:N], dask-local[:N], dask://host:port, ray://host:port "
    "(default: in this process; $ASYNCFLOW_EXECUTOR).",
)  # fmt: skip
_WITH = click.option(
    "--with", "with_decorators", multiple=True, metavar="DECORATOR",
    help="Add a step decorator to every step that lacks it: retry, catch, "
    "timeout:seconds=60, retry:times=2,minutes_between_retries=0 (repeatable).",
)  # fmt: skip


def _attach_with(flow_cls: type[FlowSpec], specs: tuple[str, ...]) -> None:
    steps = [func for _, func in step_functions(flow_cls)]
    for spec in specs:
        try:
            attach_to_every_step(steps, spec)
        except FlowDefinitionError as exc:
            raise click.BadParameter(str(exc), param_hint="--with") from exc


def _writable_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked before the run starts: the file is written once the run exists.
    if value is not None and not os.access(os.path.dirname(os.path.abspath(value)), os.W_OK):
        raise click.BadParameter(
            f"cannot write {value}: its directory does not exist or is not writable"
        )
    return value


_RUN_ID_FILE = click.option(
    "--run-id-file", type=click.Path(dir_okay=False, writable=True), default=None,
    callback=_writable_file, help="Write the new run's id to this file as soon as the run starts.",
)  # fmt: skip


@cli.command()
@_MAX_WORKERS
@_MAX_NUM_SPLITS
@click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable).")
@_RUN_ID_FILE
@_WITH
@_EXECUTOR
@click.pass_obj
def run(
    obj: _Obj,
    /,
    max_workers: int,
    max_num_splits: int,
    tags: tuple[str, ...],
    run_id_file: str | None,
    with_decorators: tuple[str, ...],
    executor: str | None,
    **options: Any,
) -> None:
    """Run the flow from start to end, persisting every artifact."""
    _attach_with(obj.flow_cls, with_decorators)
    graph = _lint_or_exit(obj.flow_cls)
    params = {**obj.configs, **parameter_values(options)}
    obj.echo(f"asyncflow executing {obj.flow_cls.__name__} for user:{current_user()}")
    _drive(
        obj,
        lambda engine: engine.run(
            obj.flow_cls, params, tags=tags, branch=obj.branch, production=obj.production
        ),
        graph,
        max_workers,
        max_num_splits,
        run_id_file,
        executor,
        again=_continuation(obj, params),
    )


@cli.command()
@click.argument("step", required=False)
@click.option("--origin-run-id", default=None, help="The run to resume (default: the latest run).")
@_MAX_WORKERS
@_MAX_NUM_SPLITS
@click.option("--tag", "tags", multiple=True, help="Tag the new run (repeatable).")
@_RUN_ID_FILE
@_WITH
@_EXECUTOR
@click.pass_obj
def resume(
    obj: _Obj,
    step: str | None,
    origin_run_id: str | None,
    max_workers: int,
    max_num_splits: int,
    tags: tuple[str, ...],
    run_id_file: str | None,
    with_decorators: tuple[str, ...],
    executor: str | None,
) -> None:
    """Run again from STEP (default: the failed step), reusing what already succeeded."""
    _attach_with(obj.flow_cls, with_decorators)
    graph = _lint_or_exit(obj.flow_cls)
    if origin_run_id is not None and not origin_run_id.isdigit():
        raise click.BadParameter(f"{origin_run_id!r} is not a run id", param_hint="--origin-run-id")
    obj.echo(f"asyncflow resuming {obj.flow_cls.__name__} for user:{current_user()}")
    _drive(
        obj,
        lambda engine: engine.resume(
            obj.flow_cls,
            step,
            origin_run_id=origin_run_id,
            tags=tags,
            branch=obj.branch,
            production=obj.production,
        ),
        graph,
        max_workers,
        max_num_splits,
        run_id_file,
        executor,
        again=_continuation(obj, {}, step),
    )


_Start = Callable[["Engine"], Awaitable["RunResult"]]


def _continuation(
    obj: _Obj, params: dict[str, Any], step: str | None = None
) -> Callable[[str], _Start]:
    """How to continue a run of this command in place (see asyncflow/supervisor.py)."""

    def again(pathspec: str) -> _Start:
        run_id = int(pathspec.split("/")[1])
        return lambda engine: engine.continue_run(
            obj.flow_cls, run_id, params, step=step, branch=obj.branch, production=obj.production
        )

    return again


def _supervisor(obj: _Obj) -> Supervisor:
    def with_run(pathspec: str, act: Callable[[Any, RunRecord], Any]) -> Any:
        flow, run_id = pathspec.split("/")
        datastore = Datastore(obj.root)  # opened after the child ended, closed before a fork
        try:
            record = datastore.metadata.get_run(flow, int(run_id))
            return record is not None and act(datastore.metadata, record)
        finally:
            datastore.close()

    def unfinished(pathspec: str) -> bool:
        return bool(with_run(pathspec, lambda meta, record: record.status == "running"))

    def fail(pathspec: str, reason: str) -> None:
        try:
            with_run(pathspec, lambda meta, r: meta.finish_run(r.flow, r.run_id, "failed", reason))
        except (AsyncflowException, OSError) as exc:  # the store may be what broke the engine
            click.secho(f"Cannot record {pathspec} as failed: {exc}", fg="red", err=True)

    return Supervisor(unfinished, fail, lambda line: click.secho(line, fg="red", err=True))


def _drive(
    obj: _Obj,
    start: _Start,
    graph: FlowGraph,
    max_workers: int,
    max_num_splits: int,
    run_id_file: str | None = None,
    executor: str | None = None,
    *,
    again: Callable[[str], _Start] | None = None,
) -> None:
    """Run the engine to the end under a supervising parent (where it can be), which
    continues the run in place with ``again(pathspec)`` if the engine's process dies."""
    if again is not None and supervised():
        continued = _supervisor(obj).fork()  # the parent never returns from it
        if continued is not None:  # a process per task, as many as --max-workers (Metaflow's)
            start, executor = again(continued), executor or f"processes:{max_workers}"
    _drive_here(obj, start, graph, max_workers, max_num_splits, run_id_file, executor)


def _drive_here(
    obj: _Obj,
    start: _Start,
    graph: FlowGraph,
    max_workers: int,
    max_num_splits: int,
    run_id_file: str | None = None,
    executor: str | None = None,
) -> None:
    """Run the engine to the end; a failure exits 1.

    Ctrl-C (exit 130) or SIGTERM (exit 143) cancels the run: the running tasks
    are cancelled, what committed stays, and the run is recorded as cancelled.
    """
    # Imported here, in the supervisor's child: its parent only waits, and never needs them.
    # As in main(), what the imports make lives as long as the process: frozen, neither the
    # run's collections nor the one at exit scan it (~5% of a small run's CPU).
    with gc_paused():
        import anyio

        from .display import LinePrinter, make_display
        from .engine import Engine
        from .events import RunStarted
    gc.freeze()

    started: list[str] = []

    def remember(event: Event) -> None:
        if isinstance(event, RunStarted):
            started.append(event.pathspec)
            report_run(event.pathspec)
            if run_id_file is not None:
                with open(run_id_file, "w") as out:
                    out.write(event.pathspec.split("/")[1])

    terminated: list[int] = []
    steps = [node.name for node in graph.sorted_nodes()]
    display = LinePrinter(quiet=True) if obj.quiet else make_display(steps=steps)
    try:
        engine = Engine(
            Datastore(obj.root),
            max_workers=max_workers,
            max_num_splits=max_num_splits,
            listeners=[display, remember],
            executor=executor,
        )
        with _sigterm_as_interrupt(terminated):
            result = anyio.run(start, engine)
        report_ended()  # the engine recorded how the run ended before it returned
    except AsyncflowException as exc:
        from .cli_inspect import exit_with

        exit_with(exc)
    except KeyboardInterrupt:
        where = f"Run {started[0]}" if started else "The run"
        why = "SIGTERM" if terminated else "Ctrl-C"
        click.secho(f"{where} was cancelled ({why}); `resume` continues it.", fg="red", err=True)
        sys.exit(143 if terminated else 130)
    if display.closed:
        click.echo(
            f"stdout was closed before the end; run {result.pathspec} went on and is "
            f"{result.status} (`logs` shows its tasks' output).",
            err=True,
        )
    if not result.successful:
        click.secho(
            f"Run {result.pathspec} failed in {result.failed_pathspec}.", fg="red", err=True
        )
        sys.exit(1)


@contextlib.contextmanager
def _sigterm_as_interrupt(terminated: list[int]) -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C (the event loop turns SIGINT into a clean cancellation)."""

    def interrupt(signum: int, frame: object) -> None:
        if not terminated:  # once: a SIGTERM to the process group is forwarded here too
            signal.raise_signal(signal.SIGINT)
        terminated.append(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command()
@click.pass_obj
def check(obj: _Obj) -> None:
    """Check the step graph and report every problem."""
    _lint_or_exit(obj.flow_cls)
    click.echo("The graph looks good!")


@cli.command()
@click.pass_obj
def show(obj: _Obj) -> None:
    """Print the steps and their transitions."""
    graph = _lint_or_exit(obj.flow_cls)
    if graph.doc:
        click.echo(graph.doc + "\n")
    for node in graph.sorted_nodes():
        click.echo(f"Step {node.name}")
        if node.doc:
            click.echo(textwrap.indent(node.doc, "    "))
        click.echo(f"    {_describe_next(node)}")
        click.echo()


def _describe_next(node: StepNode) -> str:
    if node.type == "end":
        return "(end of flow)"
    if node.parallel_foreach:
        return f"=> {node.out_funcs[0]} (a @parallel gang of num_parallel tasks)"
    if node.type == "foreach":
        return f"=> {node.out_funcs[0]} (foreach over '{node.foreach_param}')"
    if node.is_switch:
        cases = ", ".join(f"{case} -> {out}" for case, out in node.switch_cases.items())
        return f"=> {', '.join(node.out_funcs)} (switch on '{node.condition}': {cases})"
    return f"=> {', '.join(node.out_funcs)}"


@cli.command("output-dot")
@click.pass_obj
def output_dot(obj: _Obj) -> None:
    """Print the step graph in Graphviz DOT."""
    click.echo(to_dot(_lint_or_exit(obj.flow_cls)))


@cli.command("output-mermaid")
@click.pass_obj
def output_mermaid(obj: _Obj) -> None:
    """Print the step graph as a Mermaid flowchart."""
    click.echo(to_mermaid(_lint_or_exit(obj.flow_cls)))


def main(flow_cls: type[FlowSpec]) -> None:
    """Entry point used by ``FlowSpec()`` in a flow script's ``__main__``."""
    # The command owns its process: what the imports made lives as long as it does, so
    # the run's collections (and the one at exit) need not scan it again and again.
    gc.freeze()
    add_parameter_options(run, flow_cls)
    _report_fatal_signals()
    try:
        cli.main(obj=flow_cls, prog_name=sys.argv[0] if sys.argv else flow_cls.__name__)
    except SystemExit as exc:
        _leave(exc.code)


def _report_fatal_signals() -> None:
    """A step that crashes the interpreter (a segfault in C code) takes the whole run
    with it; faulthandler at least prints where, on stderr."""
    if not faulthandler.is_enabled():
        with contextlib.suppress(AttributeError, ValueError, OSError):  # stderr has no fd
            faulthandler.enable(all_threads=True)


def _leave(code: str | int | None) -> None:
    """Exit with ``code`` even if a step's thread was abandoned (a thread cannot be killed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=1)
            if thread.is_alive():
                os._exit(code if isinstance(code, int) else 1)  # all is committed already
    sys.exit(code)


cli.params.append(FSYNC_OPTION)  # --fsync (asyncflow/store_options.py)
