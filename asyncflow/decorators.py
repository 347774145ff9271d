"""Step decorators: ``@step`` marks a method; ``@retry``, ``@catch`` and ``@timeout`` only
record a spec onto ``func.decorators``. The engine reads the specs and does the work."""

from __future__ import annotations

import ast
import builtins
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .exceptions import FlowDefinitionError
from .wording import plural

__all__ = [
    "STEP_MARK",
    "CatchSpec",
    "EnvironmentSpec",
    "ExceptionWrapper",
    "IsolatedSpec",
    "MetaflowExceptionWrapper",
    "ParallelSpec",
    "ResourcesSpec",
    "RetrySpec",
    "SecretsSpec",
    "StepSpec",
    "TimeoutSpec",
    "attach_to_every_step",
    "catch",
    "environment",
    "exception_type",
    "find_spec",
    "is_step",
    "isolated",
    "parallel",
    "resources",
    "retry",
    "secrets",
    "step",
    "step_specs",
    "timeout",
]

F = TypeVar("F", bound=Callable[..., Any])

STEP_MARK = "_asyncflow_step"


def step(func: F) -> F:
    """Mark a method of a ``FlowSpec`` as a step (``def`` or ``async def``)."""
    setattr(func, STEP_MARK, True)
    if not hasattr(func, "decorators"):
        setattr(func, "decorators", [])  # noqa: B010 - step decorators (retry, catch, ...) append here
    return func


def is_step(obj: object) -> bool:
    """Whether ``obj`` is a function marked with ``@step``."""
    return callable(obj) and getattr(obj, STEP_MARK, False) is True


@dataclass(frozen=True)
class RetrySpec:
    """``@retry``: run a failing task up to ``times`` more times, at once unless
    ``minutes_between_retries`` asks for a wait (Metaflow's local runtime retries at once)."""

    name = "retry"
    times: int = 3
    minutes_between_retries: float | None = None


@dataclass(frozen=True)
class CatchSpec:
    """``@catch``: once retries are spent, succeed and keep the exception in ``self.<var>``."""

    name = "catch"
    var: str | None = None
    print_exception: bool = True


@dataclass(frozen=True)
class TimeoutSpec:
    """``@timeout``: fail an attempt that runs longer than ``seconds``."""

    name = "timeout"
    seconds: float

    def describe(self) -> str:
        """The limit as a user wrote it, e.g. ``2 seconds``."""
        whole = int(self.seconds)
        if whole == self.seconds:
            return plural(whole, "second")
        return f"{self.seconds} seconds"


@dataclass(frozen=True)
class ResourcesSpec:
    """``@resources``: what the step asks of a machine. Recorded only: every step runs in
    this process, as Metaflow's local mode ignores it too."""

    name = "resources"
    cpu: float = 1
    gpu: float | None = None
    disk: int | None = None
    memory: int = 4096
    shared_memory: int | None = None


@dataclass(frozen=True)
class IsolatedSpec:
    """``@isolated``: run the step's tasks in worker processes, not in the engine's."""

    name = "isolated"


@dataclass(frozen=True)
class ParallelSpec:
    """``@parallel``: the step runs as a gang of ``num_parallel`` tasks at once."""

    name = "parallel"


@dataclass(frozen=True)
class EnvironmentSpec:
    """``@environment(vars=...)``: environment variables set while the step's tasks run."""

    name = "environment"
    vars: dict[str, Any]


@dataclass(frozen=True)
class SecretsSpec:
    """``@secrets(sources=...)``: secrets set as environment variables while the step's
    tasks run (see :mod:`asyncflow.engine.environ` for the backends)."""

    name = "secrets"
    sources: tuple[Any, ...]
    role: str | None = None


StepSpec = (
    RetrySpec | CatchSpec | TimeoutSpec | ResourcesSpec | IsolatedSpec | EnvironmentSpec
    | SecretsSpec | ParallelSpec
)  # fmt: skip


def _attach(spec: StepSpec, func: F) -> F:
    specs: list[Any] | None = getattr(func, "decorators", None)
    if specs is None:
        specs = []
        setattr(func, "decorators", specs)  # noqa: B010 - same list @step creates
    if any(getattr(s, "name", None) == spec.name for s in specs):
        raise FlowDefinitionError(f"step '{func.__name__}' has @{spec.name} twice")
    specs.append(spec)
    return func


def _decorator(spec: StepSpec, func: F | None) -> F | Callable[[F], F]:
    if func is not None:
        return _attach(spec, func)
    return lambda f: _attach(spec, f)


@overload
def retry(func: F) -> F: ...
@overload
def retry(*, times: int = 3, minutes_between_retries: float | None = None) -> Callable[[F], F]: ...
def retry(
    func: F | None = None, *, times: int = 3, minutes_between_retries: float | None = None
) -> F | Callable[[F], F]:
    """Retry a failing step ``times`` times: at once, as Metaflow's local runtime does,
    or ``minutes_between_retries`` apart when the flow gives it."""
    if not isinstance(times, int) or times < 0:
        raise FlowDefinitionError(f"@retry(times={times!r}) must be a whole number >= 0")
    if minutes_between_retries is None:
        return _decorator(RetrySpec(times), func)
    if minutes_between_retries < 0:
        raise FlowDefinitionError(
            f"@retry(minutes_between_retries={minutes_between_retries!r}) must be >= 0"
        )
    return _decorator(RetrySpec(times, float(minutes_between_retries)), func)


@overload
def catch(func: F) -> F: ...
@overload
def catch(*, var: str | None = None, print_exception: bool = True) -> Callable[[F], F]: ...
def catch(
    func: F | None = None, *, var: str | None = None, print_exception: bool = True
) -> F | Callable[[F], F]:
    """After the retries are spent, let the step succeed; store the error in ``self.<var>``."""
    if var is not None and (not var.isidentifier() or var.startswith("_")):
        raise FlowDefinitionError(f"@catch(var={var!r}) must name a public attribute")
    return _decorator(CatchSpec(var, print_exception), func)


@overload
def timeout(func: F) -> F: ...
@overload
def timeout(*, seconds: float = 0, minutes: float = 0, hours: float = 0) -> Callable[[F], F]: ...
def timeout(
    func: F | None = None, *, seconds: float = 0, minutes: float = 0, hours: float = 0
) -> F | Callable[[F], F]:
    """Fail an attempt of the step that runs longer than the sum of the limits given.

    An async step is cancelled at its deadline. A sync step runs in a worker
    thread, which cannot be killed: the attempt fails on time, the thread is
    abandoned to finish on its own, and whatever it does afterwards is discarded.
    """
    total = seconds + 60 * minutes + 3600 * hours
    if total <= 0:
        raise FlowDefinitionError("@timeout needs a positive seconds=, minutes= or hours=")
    return _decorator(TimeoutSpec(float(total)), func)


@overload
def resources(func: F) -> F: ...
@overload
def resources(
    *,
    cpu: float = 1,
    gpu: float | None = None,
    disk: int | None = None,
    memory: int = 4096,
    shared_memory: int | None = None,
) -> Callable[[F], F]: ...
def resources(
    func: F | None = None,
    *,
    cpu: float = 1,
    gpu: float | None = None,
    disk: int | None = None,
    memory: int = 4096,
    shared_memory: int | None = None,
) -> F | Callable[[F], F]:
    """Metaflow's ``@resources``, accepted so its flows run unchanged; it limits nothing."""
    return _decorator(ResourcesSpec(cpu, gpu, disk, memory, shared_memory), func)


def isolated(func: F) -> F:
    """Run this step's tasks in worker processes of this machine (spawned, one task at a
    time each), not in the engine's process: a CPU-bound plain step uses every core, and
    a task that crashes its process (a segfault, ``os._exit``) fails only itself.
    Under ``--executor`` every step runs on that executor anyway."""
    return _attach(IsolatedSpec(), func)


def parallel(func: F) -> F:
    """Run the step as a gang: the step before it says ``self.next(self.step,
    num_parallel=N)`` and N tasks of it run at the same time, each knowing its place
    through ``current.parallel`` (``num_nodes``, ``node_index``, ``main_ip``,
    ``control_task_id``); the join after it gets all N. Node 0 is the control task.
    Tasks other than the control task may end without calling ``self.next()``."""
    return _attach(ParallelSpec(), func)


@overload
def environment(func: F) -> F: ...
@overload
def environment(*, vars: dict[str, Any] | None = None) -> Callable[[F], F]: ...
def environment(
    func: F | None = None, *, vars: dict[str, Any] | None = None
) -> F | Callable[[F], F]:
    """Set environment variables while the step's tasks run, as Metaflow's ``@environment``.

    Values may come from configs (``vars={"HOST": config.host}``); others are made text.
    All tasks share this process's ``os.environ``: tasks giving a variable different
    values run one after the other, and the variables are restored when none runs.
    """
    vars = dict(vars or {})
    bad = [k for k in vars if not isinstance(k, str) or not k or "=" in k]
    if bad:
        raise FlowDefinitionError(f"@environment(vars=...) has bad variable names: {bad!r}")
    return _decorator(EnvironmentSpec(vars), func)


@overload
def secrets(func: F) -> F: ...
@overload
def secrets(*, sources: Sequence[Any] = (), role: str | None = None) -> Callable[[F], F]: ...
def secrets(
    func: F | None = None, *, sources: Sequence[Any] = (), role: str | None = None
) -> F | Callable[[F], F]:
    """Set secrets as environment variables while the step's tasks run (Metaflow's
    ``@secrets``). A source is ``{"type": "inline", "options": {"env_vars": {...}}}``;
    other backends are refused when the task starts, naming the backend."""
    if isinstance(sources, str | dict):
        raise FlowDefinitionError("@secrets(sources=...) takes a list of sources")
    return _decorator(SecretsSpec(tuple(sources), role), func)


def _card(*args: Any, **kwargs: Any) -> Any:
    # asyncflow.cards only for `--with card`: a flow without cards never imports it
    from .cards.decorator import card

    return card(*args, **kwargs)


_BY_NAME: dict[str, Callable[..., Any]] = {
    "retry": retry, "catch": catch, "timeout": timeout, "resources": resources,
    "isolated": isolated, "card": _card, "environment": environment, "secrets": secrets,
}  # fmt: skip


def attach_to_every_step(steps: Iterable[Callable[..., Any]], spec: str) -> None:
    """Metaflow's ``run --with NAME[:key=value,...]``: add a decorator to every step
    that does not have it already (what the code says wins)."""
    name, _, args = spec.partition(":")
    if name not in _BY_NAME:
        raise FlowDefinitionError(
            f"--with {spec}: unknown decorator '{name}'; choose from {', '.join(_BY_NAME)}"
        )
    kwargs = {}
    for pair in filter(None, args.split(",")):
        key, _, text = pair.partition("=")
        try:
            kwargs[key.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            kwargs[key.strip()] = text.strip()
    try:
        decorate = _BY_NAME[name](**kwargs)
    except TypeError as exc:
        raise FlowDefinitionError(f"--with {spec}: {exc}") from exc
    for func in steps:
        if not any(getattr(s, "name", None) == name for s in step_specs(func)):
            decorate(func)


def step_specs(func: Callable[..., Any]) -> Sequence[Any]:
    """The decorator specs recorded on a step function (empty if none)."""
    return tuple(getattr(func, "decorators", ()))


def find_spec(func: Callable[..., Any], kind: type[Any]) -> Any:
    """The spec of type ``kind`` on ``func``, or None."""
    return next((s for s in step_specs(func) if isinstance(s, kind)), None)


#: Modules whose classes are Metaflow's, named in ``type`` as Metaflow names them.
_METAFLOW_MODULES = {"asyncflow.exception": "metaflow.exception"}
#: asyncflow's errors for what Metaflow raises its own class for, by Metaflow's name.
_METAFLOW_TYPES = {
    "asyncflow.exceptions.StepTimeoutError": "metaflow.plugins.timeout_decorator.TimeoutException",
    "asyncflow.exceptions.FailureHandledByCatchError": (
        "metaflow.plugins.catch_decorator.FailureHandledByCatch"
    ),
}


def exception_type(exc: BaseException) -> str:
    """``module.ClassName`` of ``exc`` as ``@catch`` records it: Metaflow's name for the
    classes and errors that are Metaflow's (``metaflow.exception.ExternalCommandFailed``)."""
    return _metaflow_name(type(exc).__module__, type(exc).__name__)


def _metaflow_name(module: str, name: str) -> str:
    full = f"{_METAFLOW_MODULES.get(module, module)}.{name}"
    return _METAFLOW_TYPES.get(full, full)


class ExceptionWrapper(Exception):
    """An exception caught by ``@catch``, kept as plain text so it pickles anywhere.

    Mirrors Metaflow's ``MetaflowExceptionWrapper``: ``type`` (``module.ClassName``,
    e.g. ``builtins.ValueError``; Metaflow's classes and errors by Metaflow's name, see
    :func:`exception_type`), ``exception`` (the message) and ``stacktrace``
    (the traceback text, which is also what ``str()`` gives). It can be raised again.
    """

    def __init__(self, exc: BaseException | None = None, stacktrace: str | None = None) -> None:
        super().__init__()
        if exc is None:
            self.type, self.exception, self.stacktrace = "", "", ""
            return
        self.type = exception_type(exc)
        self.exception = str(exc)
        self.stacktrace = stacktrace or "".join(traceback.format_exception(exc))

    @classmethod
    def from_traceback(cls, text: str) -> ExceptionWrapper:
        """The wrapper of an exception known only by its formatted traceback (a failed
        task's record): the type and message come from its last exception line."""
        wrapper = cls()
        lines = text.rstrip("\n").splitlines()
        # the exception's own lines follow the frames (indented) of its last traceback
        heads = [i for i, line in enumerate(lines) if line.startswith("Traceback (")]
        start = heads[-1] + 1 if heads else 0
        while start < len(lines) and lines[start][:1].isspace():
            start += 1
        head, _, message = "\n".join(lines[start:]).partition(": ")
        name = head.strip() or "builtins.Exception"
        builtin = "." not in name and isinstance(getattr(builtins, name, None), type)
        module, _, short = name.rpartition(".")
        wrapper.type = (
            f"builtins.{name}" if builtin else _metaflow_name(module, short) if module
            else f"__main__.{name}"
        )  # fmt: skip
        wrapper.exception, wrapper.stacktrace = message, text
        return wrapper

    def __getstate__(self) -> dict[str, str]:
        return {"type": self.type, "exception": self.exception, "stacktrace": self.stacktrace}

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        state = state or {"type": "", "exception": "", "stacktrace": ""}
        self.type, self.exception = state["type"], state["exception"]
        self.stacktrace = state["stacktrace"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExceptionWrapper) and self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash((self.type, self.exception))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (), self.__getstate__())

    def __str__(self) -> str:
        return self.stacktrace or f"{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"ExceptionWrapper({self.type}: {self.exception})"


#: The name Metaflow users know.
MetaflowExceptionWrapper = ExceptionWrapper
