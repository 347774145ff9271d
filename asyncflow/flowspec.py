"""``FlowSpec``: the base class of every flow."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .artifacts import TaskArtifacts
from .exceptions import AsyncflowException, ReservedArtifactError

#: Attribute names a step may not assign as artifacts.
RESERVED_NAMES = frozenset(
    {"next", "input", "index", "name", "foreach_stack", "merge_artifacts", "script_name", "graph"}
)


class ForeachFrame:
    """One level of foreach nesting, as ``foreach_stack()`` reports it."""

    def __init__(self, step: str, var: str, index: int, num_splits: int, item: Any) -> None:
        self.step, self.var, self.index, self.num_splits = step, var, index, num_splits
        self._item = item
        self._copied = False

    @property
    def value(self) -> Any:
        """This task's item of the foreach list; its own copy, made on first use."""
        if not self._copied:
            self._item, self._copied = _private_copy(self._item), True
        return self._item

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
    _foreach_frames: tuple[ForeachFrame, ...] = ()

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli:
            from .cli import main

            main(type(self))

    @classmethod
    def _for_task(
        cls, artifacts: TaskArtifacts | None, frames: tuple[ForeachFrame, ...] = ()
    ) -> FlowSpec:
        """An instance for one task, without running the CLI."""
        flow = cls.__new__(cls)
        object.__setattr__(flow, "_artifacts", artifacts)
        object.__setattr__(flow, "_foreach_frames", frames)
        return flow

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        return type(self).__name__

    def next(self, *steps: Callable[..., Any], foreach: str | None = None) -> None:
        """Say which step(s) run after this one; ``foreach`` names a list artifact to fan out."""
        if self._transition is not None:
            raise AsyncflowException("self.next() was called more than once in one step")
        names = tuple(getattr(s, "__name__", repr(s)) for s in steps)
        object.__setattr__(self, "_transition", (names, foreach))

    @property
    def input(self) -> Any:
        """The item of the foreach list this task handles (inside a foreach only)."""
        if not self._foreach_frames:
            raise AsyncflowException("self.input is only available inside a foreach")
        return self._foreach_frames[-1].value

    @property
    def index(self) -> int | None:
        """This task's position in the innermost foreach, or None outside a foreach."""
        return self._foreach_frames[-1].index if self._foreach_frames else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for each enclosing foreach, outermost first."""
        return [(f.index, f.num_splits, f.value) for f in self._foreach_frames]

    def __getattr__(self, name: str) -> Any:
        artifacts = self.__dict__.get("_artifacts") or type(self)._artifacts
        if name.startswith("_") or artifacts is None or name not in artifacts:
            raise AttributeError(
                f"flow {type(self).__name__} has no attribute or artifact '{name}'"
            )
        value = artifacts.load(name)
        object.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        artifacts = self._artifacts
        if name in RESERVED_NAMES or callable(getattr(type(self), name, None)):
            raise ReservedArtifactError(name, artifacts.step if artifacts else None)
        object.__setattr__(self, name, value)
        if artifacts is not None:
            artifacts.assigned.add(name)

    def _artifact_values(self) -> dict[str, Any]:
        """Values of the artifacts this task assigned or read."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
