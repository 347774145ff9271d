"""Errors raised by asyncflow.

The tree, so callers can catch at the level they need::

    AsyncflowException                 every error of ours; renders itself for the CLI
    ├── FlowDefinitionError            a flow class that cannot run as written
    │   ├── LintError                  the step graph breaks a rule (carries every finding)
    │   ├── FlowFileError              a flow file that is missing or defines no single flow
    │   └── ParameterError             a bad Parameter definition or value (CLI exit code 2)
    ├── InvalidTransitionError         a step called self.next(...) differently from its source
    │   ├── RepeatedNextError          a step called self.next(...) more than once
    │   └── SwitchError                a switch's condition is missing or matches no case
    ├── StepTimeoutError               an attempt of a step ran past its @timeout
    ├── StepExitError                  a step called sys.exit(); the attempt fails
    ├── ForeachError                   a foreach artifact that is missing, not iterable, empty
    │                                  or longer than --max-num-splits
    ├── ResumeError                    resume was asked for something it cannot do
    ├── ReservedArtifactError          a step assigned a reserved or unreachable name (next,
    │   │                              input, '', 'a/b', ...)
    │   └── ParameterReadOnlyError     a step assigned a Parameter or class constant
    │                                  (also an AttributeError, as in Metaflow)
    ├── MergeArtifactsError            merge_artifacts() misused, or inputs that cannot merge
    │   ├── UnhandledInMergeArtifactsError  inputs disagree on artifacts the join did not set
    │   └── MissingInMergeArtifactsError    include= names artifacts no input has
    ├── NotFoundError                  an unknown flow, run, step, task or artifact
    │                                  (also a KeyError: ``task["x"]``, as in Metaflow)
    ├── PathspecError                  text that is not a pathspec (CLI exit code 2)
    ├── NamespaceMismatchError         a run outside the client's current namespace
    ├── TagError                       a tag that cannot be added or removed
    ├── DatastoreError                 the store cannot be read or written
    │   ├── CorruptedBlobError         a blob is missing or does not match its hash
    │   ├── LeaseLapsedError           a writer's lease expired before it committed
    │   └── StaleAttemptError          an attempt tried to commit after a newer one started
    ├── ExecutorError                  an executor cannot start, be reached, or use this store
    ├── WorkerDiedError                the process running a task ended first (a signal, an exit)
    ├── FailureHandledByCatchError     what @catch records when the last attempt's process died
    ├── RemoteTaskError                a worker's exception that could not be sent back as is
    └── RunFailed                      a run ended because a task failed for good

Every exception builds its message in ``__init__`` from structured arguments
and keeps them as attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AsyncflowException",
    "CorruptedBlobError",
    "DatastoreError",
    "ExecutorError",
    "FailureHandledByCatchError",
    "FlowDefinitionError",
    "FlowFileError",
    "ForeachError",
    "InvalidTransitionError",
    "LeaseLapsedError",
    "LintError",
    "MergeArtifactsError",
    "MissingInMergeArtifactsError",
    "NamespaceMismatchError",
    "NotFoundError",
    "ParameterError",
    "ParameterReadOnlyError",
    "PathspecError",
    "RemoteTaskError",
    "RepeatedNextError",
    "ReservedArtifactError",
    "ResumeError",
    "RunFailed",
    "StaleAttemptError",
    "StepExitError",
    "StepTimeoutError",
    "SwitchError",
    "TagError",
    "UnhandledInMergeArtifactsError",
    "WorkerDiedError",
    "pathspec_shape",
]


class AsyncflowException(Exception):
    """Base class of every asyncflow error; ``exit_code`` is what the CLI returns."""

    headline = "asyncflow error"
    exit_code = 1

    def __init__(
        self, message: str = "", lineno: int | None = None, source_file: str | None = None
    ) -> None:
        # lineno and source_file as Metaflow's MetaflowException takes them: "line 3: ..."
        where = f"line {lineno}" if lineno else source_file
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.line_no, self.source_file = message, lineno, source_file

    def render(self) -> str:
        """A terminal-friendly rendering: headline, then the message."""
        return f"{self.headline}:\n    {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its state, not its constructor's arguments, so every subclass
        # crosses to and from a worker process whatever its __init__ takes.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[AsyncflowException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class FlowDefinitionError(AsyncflowException):
    """A flow class that cannot run as written."""

    headline = "Invalid flow"


class LintError(FlowDefinitionError):
    """The step graph breaks one or more rules; ``findings`` lists them all."""

    headline = "The flow failed the graph check"

    def __init__(self, findings: Sequence[str]) -> None:
        self.findings = list(findings)
        super().__init__("\n    ".join(self.findings))


class FlowFileError(FlowDefinitionError):
    """A flow file given to ``Runner`` is missing or does not define exactly one flow."""

    def __init__(self, path: str, found: str | None) -> None:
        self.path, self.found = path, found
        if found is None:
            super().__init__(f"flow file {path} does not exist")
        else:
            super().__init__(
                f"flow file {path} must define exactly one FlowSpec subclass to run; found {found}"
            )


class ParameterError(FlowDefinitionError):
    """A Parameter that is defined wrongly, or given a value it cannot take."""

    headline = "Invalid parameter"
    exit_code = 2

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter, self.problem = parameter, problem
        super().__init__(f"parameter '{parameter}': {problem}")


class InvalidTransitionError(AsyncflowException):
    """A step's ``self.next(...)`` call did not match the graph built from its source."""

    headline = "Invalid self.next() transition"

    def __init__(self, step: str, expected: Sequence[str], actual: Sequence[str] | None) -> None:
        self.step, self.expected = step, list(expected)
        self.actual = None if actual is None else list(actual)
        said = f"its source says self.next({', '.join(self.expected)})"
        if self.actual is None:
            super().__init__(f"step '{step}' ended without calling self.next(); {said}")
        else:
            super().__init__(f"step '{step}' called self.next({', '.join(self.actual)}) but {said}")


class RepeatedNextError(InvalidTransitionError):
    """A step called ``self.next(...)`` more than once."""

    def __init__(self, step: str, first: Sequence[str], second: Sequence[str]) -> None:
        self.step, self.expected, self.actual = step, list(first), list(second)
        AsyncflowException.__init__(
            self,
            f"step '{step}' called self.next() twice: self.next({', '.join(first)}), then "
            f"self.next({', '.join(second)}); call it once, as the step's last statement",
        )


class SwitchError(InvalidTransitionError):
    """A switch, ``self.next({...}, condition="var")``, could not choose its case."""

    def __init__(self, step: str, problem: str) -> None:
        self.step, self.expected, self.actual = step, [], None
        AsyncflowException.__init__(self, f"step '{step}': {problem}")


class StepTimeoutError(AsyncflowException):
    """An attempt of a step ran longer than its ``@timeout``; it counts as a failure."""

    headline = "Step timed out"

    def __init__(self, step: str, limit: str) -> None:
        self.step, self.limit = step, limit
        super().__init__(f"step '{step}' timed out after {limit} (@timeout)")


class StepExitError(AsyncflowException):
    """A step called ``sys.exit()``: its attempt fails, as a Metaflow task whose process
    exits does; the run goes on to retries, ``@catch`` or failure."""

    headline = "Step exited"

    def __init__(self, code: object) -> None:
        self.code = code
        super().__init__(f"the step called sys.exit({code!r})")


class ResumeError(AsyncflowException):
    """``resume`` was asked for something it cannot do (an unknown step, ...)."""

    headline = "Cannot resume"


class ReservedArtifactError(AsyncflowException):
    """A step tried to assign an attribute name that asyncflow reserves."""

    headline = "Reserved artifact name"

    def __init__(self, name: str, step: str | None = None, problem: str | None = None) -> None:
        self.name, self.step = name, step
        where = f" in step '{step}'" if step else ""
        problem = problem or "is reserved by asyncflow and cannot be an artifact"
        super().__init__(f"{name!r} {problem}{where}")


class ParameterReadOnlyError(ReservedArtifactError, AttributeError):  # type: ignore[misc]
    """A step assigned a Parameter or a class constant: both are fixed for the whole run.

    Also an ``AttributeError``, which is what Metaflow raises and flows catch."""

    headline = "Parameters are read-only"

    def __init__(self, name: str, step: str | None = None, kind: str = "a Parameter") -> None:
        self.name, self.step = name, step
        where = f" in step '{step}'" if step else ""
        AsyncflowException.__init__(
            self, f"'{name}' is {kind} and cannot be assigned{where}; use another name"
        )


class ForeachError(AsyncflowException):
    """A foreach whose artifact cannot fan out: missing, not iterable, empty or too long."""

    headline = "Invalid foreach"

    def __init__(self, step: str, var: str, problem: str) -> None:
        self.step, self.var, self.problem = step, var, problem
        super().__init__(f"step '{step}' fans out over self.{var}, which {problem}")


class MergeArtifactsError(AsyncflowException):
    """``merge_artifacts`` was misused, or its inputs cannot be merged."""

    headline = "Cannot merge artifacts"


class UnhandledInMergeArtifactsError(MergeArtifactsError):
    """Inputs hold different values for artifacts the join neither set nor excluded;
    ``artifact_names`` (Metaflow's attribute) lists them."""

    headline = "Unhandled artifacts in merge"

    def __init__(self, step: str, artifacts: Sequence[str]) -> None:
        self.step, self.artifacts = step, list(artifacts)
        self.artifact_names = self.artifacts
        super().__init__(
            f"step '{step}' cannot merge artifacts whose values differ between its inputs: "
            f"{', '.join(self.artifacts)}; set them in the join (self.<name> = ...) before "
            "calling merge_artifacts, or exclude them"
        )


class MissingInMergeArtifactsError(MergeArtifactsError):
    """``include=`` names artifacts that no input has; ``artifact_names`` (Metaflow's
    attribute) lists them."""

    headline = "Missing artifacts in merge"

    def __init__(self, step: str, artifacts: Sequence[str]) -> None:
        self.step, self.artifacts = step, list(artifacts)
        self.artifact_names = self.artifacts
        super().__init__(
            f"step '{step}' asks merge_artifacts to include {', '.join(self.artifacts)}, "
            "which no input has"
        )


class NotFoundError(AsyncflowException, KeyError):
    """An unknown flow, run, step, task or artifact; ``pathspec`` names it.

    Also a ``KeyError``, which is what Metaflow's client raises for ``task["x"]``,
    ``run["step"]`` and ``flow["run_id"]`` when there is no such item.
    """

    headline = "Not found"

    def __init__(self, kind: str, pathspec: str, hint: str = "") -> None:
        self.kind, self.pathspec = kind, pathspec
        super().__init__(f"{kind} '{pathspec}' does not exist{hint}")

    def __str__(self) -> str:  # KeyError's own would quote the message
        return self.message


#: What the parts of a pathspec are, in order; a pathspec may stop after any of them.
PATHSPEC_PARTS = ("FLOW", "RUN_ID", "STEP", "TASK_ID", "ARTIFACT")


class PathspecError(AsyncflowException, ValueError):
    """Text that cannot be a pathspec; ``problem`` says why (a usage error: exit code 2)."""

    headline = "Not a pathspec"
    exit_code = 2

    def __init__(
        self, text: object, problem: str, kind: str | None = None, shape: str | None = None
    ) -> None:
        self.text, self.problem, self.kind = text, problem, kind
        what = f"a {kind} pathspec" if kind else "a pathspec"
        super().__init__(f"{text!r} is not {what}: {problem}. {shape or pathspec_shape(kind)}")


def pathspec_shape(kind: str | None = None) -> str:
    """What a pathspec of ``kind`` (or of any kind) looks like, with an example."""
    kinds = ["flow", "run", "step", "task", "artifact"]
    example = ["ArtifactFlow", "3", "start", "1", "dataset"]
    if kind in kinds:
        n = kinds.index(kind) + 1
        return f"A {kind} pathspec is {'/'.join(PATHSPEC_PARTS[:n])}, e.g. {'/'.join(example[:n])}"
    return (
        f"A pathspec is {'/'.join(PATHSPEC_PARTS)} cut after any part, "
        "e.g. ArtifactFlow/3 (a run) or ArtifactFlow/3/start/1 (a task)"
    )


class NamespaceMismatchError(AsyncflowException):
    """A run (or its step, task, artifact) exists but is outside the current namespace."""

    headline = "Not in the current namespace"

    def __init__(self, kind: str, pathspec: str, namespace: str) -> None:
        self.kind, self.pathspec, self.namespace = kind, pathspec, namespace
        super().__init__(
            f"{kind} '{pathspec}' is not in namespace '{namespace}'; "
            "use namespace(None) to see every run"
        )


class TagError(AsyncflowException):
    """A tag that cannot be added or removed (empty, too long, or a system tag)."""

    headline = "Invalid tag operation"

    def __init__(self, pathspec: str | None, tag: str | None, reason: str) -> None:
        self.pathspec, self.tag, self.reason = pathspec, tag, reason
        where = f" on run '{pathspec}'" if pathspec else ""
        what = f"use tag '{tag}'" if tag is not None else "change the tags"
        super().__init__(f"cannot {what}{where}: {reason}")


class DatastoreError(AsyncflowException):
    """The datastore cannot be read or written."""

    headline = "Datastore error"


class CorruptedBlobError(DatastoreError):
    """A blob is missing or its content does not match its key."""

    def __init__(self, key: str, problem: str, artifact: str | None = None) -> None:
        self.key, self.problem, self.artifact = key, problem, artifact
        owner = f"artifact '{artifact}': " if artifact else ""
        super().__init__(f"{owner}blob {key} is {problem}")


class RunFailed(AsyncflowException):
    """A run ended because a task failed after its retries."""

    headline = "Run failed"

    def __init__(self, pathspec: str, exception: BaseException) -> None:
        self.pathspec, self.exception = pathspec, exception
        super().__init__(f"task {pathspec} failed: {type(exception).__name__}: {exception}")


class LeaseLapsedError(DatastoreError):
    """A writer's lease (PostgreSQL metadata) expired before it committed: it stopped
    renewing for longer than the lease, so gc may have collected the blobs it claimed."""

    def __init__(self, owner: str, seconds: float) -> None:
        self.owner, self.seconds = owner, seconds
        super().__init__(
            f"the lease of writer {owner} expired before it committed (no heartbeat for "
            f"{seconds:g} s: was the process suspended?); gc may have deleted the blobs it "
            "had stored, so nothing was committed: retry the task (or resume the run)"
        )


class StaleAttemptError(DatastoreError):
    """An attempt tried to commit a task after a newer attempt of it was started."""

    def __init__(self, pathspec: str, attempt: int, fenced: int | None) -> None:
        self.pathspec, self.attempt, self.fenced = pathspec, attempt, fenced
        newer = "none was started" if fenced is None else f"attempt {fenced} is the current one"
        super().__init__(f"attempt {attempt} of task {pathspec} may not commit: {newer}")


class ExecutorError(AsyncflowException):
    """An executor cannot be set up, reached, or used with this datastore."""

    headline = "Executor error"


class WorkerDiedError(AsyncflowException):
    """The process running a task ended before the task finished (a crash, a signal)."""

    def __init__(self, pathspec: str, how: str) -> None:
        self.pathspec, self.how = pathspec, how
        super().__init__(f"the worker running {pathspec} {how}")


class FailureHandledByCatchError(AsyncflowException):
    """What ``@catch`` puts in its variable when the task's last attempt did not raise but
    its process died (Metaflow's FailureHandledByCatch, with Metaflow's message)."""

    headline = "Task execution failed but @catch handled it"

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(
            f"Task execution kept failing over {attempts} attempts. Your code did not raise "
            "an exception. Something in the execution environment caused the failure."
        )


class RemoteTaskError(AsyncflowException):
    """A task's exception raised on a worker that could not be sent back as it was."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        super().__init__(f"{type_name}: {message}")
