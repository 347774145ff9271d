"""What one task sees and sets: inherited artifacts loaded lazily, new ones recorded.

Every read decodes a fresh copy from the store, so a task that mutates an
inherited value in place changes nothing for its siblings or its parent. At
the end, assigned values are persisted, values that were read and may have been
mutated in place are re-encoded and kept if they changed, and everything else is
passed down by reference without any I/O.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from typing import Any

from .store import ArtifactRef, Datastore

__all__ = ["TaskArtifacts", "is_immutable"]

_IMMUTABLE = (
    type(None), bool, int, float, complex, str, bytes, range, datetime.date, datetime.time,
    datetime.timedelta,
)  # fmt: skip
#: Immutable types of modules this one does not import (~1 ms of every flow's start):
#: while a module is not imported, no value is an instance of its types.
_IMMUTABLE_ELSEWHERE = (("decimal", "Decimal"), ("fractions", "Fraction"))


def is_immutable(value: Any) -> bool:
    """Whether ``value`` cannot be changed in place (so re-reading it proves nothing new)."""
    if isinstance(value, _IMMUTABLE):
        return True
    for module, name in _IMMUTABLE_ELSEWHERE:
        home = sys.modules.get(module)
        if home is not None and isinstance(value, getattr(home, name)):
            return True
    if type(value) in (tuple, frozenset):
        return all(is_immutable(v) for v in value)
    module = type(value).__module__
    if module.startswith("pyarrow"):
        return True
    flags = getattr(value, "flags", None)
    return module == "numpy" and flags is not None and not flags.writeable


class TaskArtifacts:
    """The artifact namespace of one task."""

    def __init__(
        self,
        datastore: Datastore,
        step: str,
        pathspec: str,
        inherited: dict[str, ArtifactRef],
        on_stored: Callable[[ArtifactRef], None] | None = None,
    ) -> None:
        self.datastore = datastore
        self.step = step
        self.pathspec = pathspec
        self.inherited = dict(inherited)
        self.loaded: set[str] = set()
        self.assigned: set[str] = set()
        self._on_stored = on_stored

    def __contains__(self, name: str) -> bool:
        return name in self.inherited

    def snapshot(self) -> TaskArtifacts:
        """A copy whose bookkeeping no longer follows this one (the names are copied, the
        values stay shared)."""
        copy = TaskArtifacts(self.datastore, self.step, self.pathspec, self.inherited)
        copy._on_stored = self._on_stored
        copy.loaded, copy.assigned = set(self.loaded), set(self.assigned)
        return copy

    def load(self, name: str) -> Any:
        """Decode inherited artifact ``name`` (a fresh, private copy) and note that it was read."""
        value = self.datastore.load(self.inherited[name], pathspec=self.pathspec, writable=True)
        self.loaded.add(name)
        return value

    def persist(self, values: dict[str, Any]) -> dict[str, ArtifactRef]:
        """Store what changed; return every artifact the task passes down, by name."""
        refs = dict(self.inherited)
        for name in sorted(self.assigned):
            refs[name] = self._store(name, values[name])
        for name in sorted(self.loaded - self.assigned):
            value = values.get(name)
            if name in values and not is_immutable(value):
                ref = self.datastore.persist(name, value, step=self.step, known_key=refs[name].key)
                if ref.key != refs[name].key:
                    refs[name] = self._announce(ref)
        return refs

    def _store(self, name: str, value: Any) -> ArtifactRef:
        return self._announce(self.datastore.persist(name, value, step=self.step))

    def _announce(self, ref: ArtifactRef) -> ArtifactRef:
        if self._on_stored:
            self._on_stored(ref)
        return ref
