"""``FlowSpec``: the base class of every flow."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._gcpause import gc_paused
from .artifacts import TaskArtifacts
from .exceptions import (
    MergeArtifactsError,
    MissingInMergeArtifactsError,
    ParameterReadOnlyError,
    RepeatedNextError,
    ReservedArtifactError,
    SwitchError,
    UnhandledInMergeArtifactsError,
)
from .parameters import is_parameter
from .store import ArtifactRef

if TYPE_CHECKING:
    from .graph import FlowGraph, StepNode

__all__ = [
    "PARALLEL_VAR", "RESERVED_NAMES", "FlowSpec", "ForeachFrame", "class_constant_values",
    "class_constants", "describe_transition", "is_internal",
]  # fmt: skip

#: The artifact a ``num_parallel`` split keeps its node indexes in (Metaflow's name).
PARALLEL_VAR = "_parallel_ubf_iter"

#: Attribute names a step may not assign as artifacts (Metaflow's, plus our methods).
RESERVED_NAMES = frozenset(
    {
        "next", "input", "index", "name", "foreach_stack", "merge_artifacts", "script_name",
        "graph", "cmd", "file", "path_spec",
    }
)  # fmt: skip


class ForeachFrame:
    """One level of foreach nesting, as ``foreach_stack()`` reports it; also the tuple
    ``(step, var, num_splits, index, value)`` that Metaflow's ``ForeachFrame`` is."""

    _fields = ("step", "var", "num_splits", "index", "value")
    # no __dict__: every task of a foreach (and a join, for each input) holds one
    __slots__ = ("_copied", "_copy", "_source", "index", "num_splits", "step", "var")

    def __init__(self, step: str, var: str, index: int, num_splits: int, item: Any) -> None:
        self.step, self.var, self.index, self.num_splits = step, var, index, num_splits
        self._source = item
        self._copy: Any = None
        self._copied = False

    @property
    def value(self) -> Any:
        """This task's item of the foreach list; its own copy, made on first use."""
        if not self._copied:
            self._copy, self._copied = _private_copy(self._source), True
        return self._copy

    def __iter__(self) -> Iterator[Any]:
        return (getattr(self, name) for name in self._fields)

    def __getitem__(self, index: int | slice) -> Any:
        return tuple(self)[index]

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"ForeachFrame({shown})"

    @property
    def item(self) -> Any:
        """The item as the foreach listed it, shared by every task at this position
        (``value`` is a task's own copy)."""
        return self._source

    def fresh(self) -> ForeachFrame:
        """The same position for another task, which gets its own copy of the item."""
        return ForeachFrame(self.step, self.var, self.index, self.num_splits, self._source)

    def to_record(self) -> dict[str, Any]:
        """What the metadata store keeps of this frame."""
        return {
            "step": self.step,
            "var": self.var,
            "index": self.index,
            "num_splits": self.num_splits,
        }


def _private_copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # an uncopyable item (a lock, a client) is shared as is
        return value


class FlowSpec:
    """Base class of a flow: subclass it, add ``@step`` methods, instantiate it to run the CLI."""

    _artifacts: TaskArtifacts | None = None
    _transition: tuple[tuple[str, ...], str | None] | None = None
    #: The ``condition=`` of the switch this task's ``self.next`` made, if it made one.
    _switched_on: str | None = None
    _foreach_frames: tuple[ForeachFrame, ...] = ()
    _is_join: bool = False
    _num_parallel: int | None = None
    #: In a join: how to read an input's artifact by name, or None if no input has it.
    _input_reads: Callable[[str], str | None] | None = None

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli:
            with gc_paused():  # the command line's modules are never garbage
                from .cli import main

            main(type(self))

    @classmethod
    def _for_task(
        cls,
        artifacts: TaskArtifacts | None,
        frames: tuple[ForeachFrame, ...] = (),
        *,
        is_join: bool = False,
        input_reads: Callable[[str], str | None] | None = None,
    ) -> FlowSpec:
        """An instance for one task, without running the CLI."""
        flow = cls.__new__(cls)
        object.__setattr__(flow, "_artifacts", artifacts)
        # each task copies the item on its own: siblings and successors share frames
        object.__setattr__(flow, "_foreach_frames", tuple(f.fresh() for f in frames))
        object.__setattr__(flow, "_is_join", is_join)
        object.__setattr__(flow, "_input_reads", input_reads)
        return flow

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        return type(self).__name__

    @property
    def _step(self) -> str:
        return self._artifacts.step if self._artifacts is not None else "?"

    @property
    def _current_step(self) -> str | None:
        """The running step's name (Metaflow's private attribute, which flows read)."""
        return self._artifacts.step if self._artifacts is not None else None

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """The enclosing foreach frames, outermost first (``.step``, ``.var``,
        ``.num_splits``, ``.index``, ``.value``), as Metaflow's private attribute gives
        them."""
        return list(self._foreach_frames)

    @property
    def _graph(self) -> FlowGraph:
        """The flow's step graph (Metaflow's ``flow._graph[name].type``)."""
        from .graph import FlowGraph

        return FlowGraph(type(self))

    def __iter__(self) -> Iterator[StepNode]:
        """The flow's steps, in graph order (Metaflow's legacy ``for step in flow``)."""
        return iter(self._graph.sorted_nodes())

    def next(
        self,
        *steps: Callable[..., Any] | dict[Any, Callable[..., Any]],
        foreach: str | None = None,
        num_parallel: int | None = None,
        condition: str | None = None,
    ) -> None:
        """Say which step(s) run after this one; ``foreach`` names a list artifact to fan
        out, ``num_parallel`` starts that many tasks of a ``@parallel`` step at once.

        A switch, ``self.next({"a": self.x, "b": self.y}, condition="var")``, runs only
        the step whose key equals the value of artifact ``var`` at this call.
        """
        if condition is not None or (steps and isinstance(steps[0], dict)):
            names: tuple[str, ...] = (self._switch_case(steps, condition),)
        else:
            names = tuple(getattr(s, "__name__", repr(s)) for s in steps)
        if self._transition is not None:
            raise RepeatedNextError(
                self._step,
                describe_transition(*self._transition),
                describe_transition(names, foreach),
            )
        object.__setattr__(self, "_transition", (names, foreach))
        object.__setattr__(self, "_num_parallel", num_parallel)
        if condition is not None:
            object.__setattr__(self, "_switched_on", condition)

    def _switch_case(self, steps: tuple[Any, ...], condition: str | None) -> str:
        """The step a switch goes to: the case the condition artifact's value selects."""
        if len(steps) != 1 or not isinstance(steps[0], dict) or not steps[0]:
            raise SwitchError(
                self._step, "condition= goes with one non-empty dictionary of cases: "
                "self.next({'a': self.x, ...}, condition='var')",
            )  # fmt: skip
        if not isinstance(condition, str):
            raise SwitchError(
                self._step, "a dictionary in self.next() needs condition= naming the "
                "artifact that chooses the case",
            )  # fmt: skip
        cases = steps[0]
        try:
            value = getattr(self, condition)
        except AttributeError:
            raise SwitchError(
                self._step, f"the switch's condition self.{condition} was never set; "
                f"set it in this step or an earlier one",
            ) from None  # fmt: skip
        try:
            chosen = cases[value]
        except (KeyError, TypeError):
            raise SwitchError(
                self._step, f"the switch's condition self.{condition} is {value!r}, which is "
                f"none of its cases ({', '.join(repr(k) for k in cases)})",
            ) from None  # fmt: skip
        return str(getattr(chosen, "__name__", repr(chosen)))

    @property
    def input(self) -> Any:
        """The item of the foreach list this task handles (None outside a foreach)."""
        return self._foreach_frames[-1].value if self._foreach_frames else None

    @property
    def index(self) -> int | None:
        """This task's position in the innermost foreach, or None outside a foreach."""
        return self._foreach_frames[-1].index if self._foreach_frames else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for each enclosing foreach, outermost first."""
        return [(f.index, f.num_splits, f.value) for f in self._foreach_frames]

    def merge_artifacts(
        self,
        inputs: Iterable[FlowSpec],
        exclude: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
    ) -> None:
        """In a join, pass down every artifact the inputs agree on (compared by content hash).

        Artifacts this step already set are left alone; ``exclude`` skips names,
        ``include`` merges only the names it lists. Artifacts whose values differ
        between inputs fail the step, naming them all, and nothing is merged.
        """
        include_set, exclude_set = set(include or ()), set(exclude or ())
        artifacts = self._check_merge(include_set, exclude_set)
        own = set(artifacts.inherited) | artifacts.assigned

        def wanted(name: str) -> bool:
            if name in own:
                return False
            return name in include_set if include_set else name not in exclude_set

        merged, conflicts = _merge_refs(inputs, wanted)
        missing = sorted(include_set - own - set(merged))
        if conflicts:
            raise UnhandledInMergeArtifactsError(self._step, conflicts)
        if missing:
            raise MissingInMergeArtifactsError(self._step, missing)
        artifacts.inherited.update(merged)

    def _check_merge(self, include: set[str], exclude: set[str]) -> TaskArtifacts:
        if not self._is_join or self._artifacts is None:
            raise MergeArtifactsError(
                f"merge_artifacts() works only in a join step, and step '{self._step}' is not one"
            )
        if include and exclude:
            raise MergeArtifactsError(
                f"step '{self._step}' passed both include= and exclude= to merge_artifacts(); "
                "use one or the other"
            )
        return self._artifacts

    def __getattr__(self, name: str) -> Any:
        artifacts = self.__dict__.get("_artifacts") or type(self)._artifacts
        if is_internal(name) or artifacts is None or name not in artifacts:
            raise AttributeError(self._no_such_artifact(name))
        value = artifacts.load(name)
        object.__setattr__(self, name, value)
        return value

    def _no_such_artifact(self, name: str) -> str:
        message = f"flow {type(self).__name__} has no attribute or artifact '{name}'"
        reads = self.__dict__.get("_input_reads")
        hint = reads(name) if reads is not None and not name.startswith("_") else None
        if hint is None:
            return message
        return (
            f"{message}: step '{self._step}' is a join, and a join does not inherit its "
            f"inputs' artifacts; read it from the inputs ({hint}) or call "
            "self.merge_artifacts(inputs) first"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        artifacts = self._artifacts
        step = artifacts.step if artifacts else None
        _check_artifact_name(type(self), name, step)
        object.__setattr__(self, name, value)
        if artifacts is not None:
            artifacts.assigned.add(name)

    def _snapshot(self) -> FlowSpec:
        """A detached copy of this task's flow object: the artifacts as bound now.

        What this object's body assigns later does not reach the copy. The names are
        copied before the values: an assignment binds the value before it notes the
        name, so every name copied has its value (under the GIL each copy is atomic).
        """
        artifacts = self._artifacts
        copy = type(self).__new__(type(self))
        snapshot = artifacts.snapshot() if artifacts is not None else None
        copy.__dict__.update(self.__dict__)
        object.__setattr__(copy, "_artifacts", snapshot)
        return copy

    def _artifact_values(self) -> dict[str, Any]:
        """Values of the artifacts this task assigned or read."""
        return {k: v for k, v in self.__dict__.items() if not is_internal(k)}


def is_internal(name: str) -> bool:
    """Whether ``name`` is never an artifact: dunder names and the engine's own state.

    Every other attribute a step sets, ``self._x`` included, is persisted, as in Metaflow.
    """
    return name.startswith("__") or name in _INTERNAL


#: What the engine keeps on each task's flow object (set with ``object.__setattr__``).
_INTERNAL = frozenset(
    {
        "_artifacts",
        "_transition",
        "_switched_on",
        "_num_parallel",
        "_foreach_frames",
        "_is_join",
        "_input_reads",
    }
)


def _check_artifact_name(flow_cls: type, name: str, step: str | None) -> None:
    if not _assignable(flow_cls, name):
        _refuse_name(flow_cls, name, step)


@functools.lru_cache(maxsize=4096)
def _assignable(flow_cls: type, name: str) -> bool:
    # every assignment in every task asks; a class's attributes are fixed once defined
    try:
        _refuse_name(flow_cls, name, None)
    except (ParameterReadOnlyError, ReservedArtifactError):
        return False
    return True


def _refuse_name(flow_cls: type, name: str, step: str | None) -> None:
    if is_parameter(flow_cls, name):
        raise ParameterReadOnlyError(name, step)
    if name in class_constants(flow_cls):
        raise ParameterReadOnlyError(name, step, kind="a constant of the flow class")
    if not name:
        raise ReservedArtifactError(name, step, "is empty: no artifact can have that name")
    if "/" in name:
        raise ReservedArtifactError(
            name, step, "contains '/', which separates the parts of a pathspec: "
            "no artifact can have that name",
        )  # fmt: skip
    if name in RESERVED_NAMES or is_internal(name) or _is_class_member(flow_cls, name):
        raise ReservedArtifactError(name, step)


def _is_class_member(flow_cls: type, name: str) -> bool:
    # methods, properties (name, input, _current_step, ...) and other descriptors
    member = getattr(flow_cls, name, None)
    return callable(member) or hasattr(member, "__get__")


def class_constants(flow_cls: type) -> frozenset[str]:
    """Public plain values defined on a flow's classes (not Parameters, methods or
    properties): read-only in every step, as in Metaflow."""
    return _class_constants(flow_cls)


def class_constant_values(flow_cls: type) -> dict[str, Any]:
    """The class constants of ``flow_cls`` and their values (stored with the parameters)."""
    return {name: getattr(flow_cls, name) for name in sorted(class_constants(flow_cls))}


@functools.lru_cache(maxsize=256)
def _class_constants(flow_cls: type) -> frozenset[str]:
    # every assignment in every task asks; a class's attributes are fixed once defined
    names: set[str] = set()
    for klass in flow_cls.__mro__:
        if klass is FlowSpec or not issubclass(klass, FlowSpec):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or callable(value) or isinstance(value, property):
                continue
            if not is_parameter(flow_cls, name) and not hasattr(value, "__get__"):
                names.add(name)
    return frozenset(names)


def describe_transition(steps: tuple[str, ...], foreach: str | None) -> list[str]:
    """A transition as messages show it: the step names, then ``foreach='var'``."""
    return [*steps, *([f"foreach={foreach!r}"] if foreach else [])]


def _merge_refs(
    inputs: Iterable[FlowSpec], wanted: Callable[[str], bool]
) -> tuple[dict[str, ArtifactRef], list[str]]:
    """The first ref of each wanted name across inputs, and the names whose content
    differs, by name (a join reads its inputs' refs from the store, which keeps no order)."""
    merged: dict[str, ArtifactRef] = {}
    conflicts: list[str] = []
    for inp in inputs:
        refs = inp._artifacts.inherited if inp._artifacts is not None else {}
        for name, ref in refs.items():
            if not wanted(name):
                continue
            first = merged.setdefault(name, ref)
            if (first.key, first.encoding) != (ref.key, ref.encoding) and name not in conflicts:
                conflicts.append(name)
    return merged, sorted(conflicts)
