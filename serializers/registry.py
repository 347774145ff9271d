"""The registry: picks a serializer for a value, and the right one back for a stored encoding."""

from __future__ import annotations

import importlib
import threading
import warnings
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from serializers.base import Encoded, Serializer
from serializers.errors import (
    ENTRY_POINT_GROUP,
    Declined,
    DeserializationError,
    DuplicateEncodingError,
    PickleNotAllowedError,
    SerializerPluginWarning,
    UnknownEncodingError,
    UnserializableError,
)

if TYPE_CHECKING:
    from serializers._entry_points import EntryPoint

__all__ = ["Registry", "builtin_serializers", "default_registry"]


def builtin_serializers() -> list[Serializer]:
    """Fresh instances of the built-in serializers (raw bytes, msgpack, NumPy, Arrow,
    cloudpickle)."""
    from serializers._arrow import ArrowSerializer
    from serializers._bytes import BytesSerializer
    from serializers._msgpack import MsgpackSerializer
    from serializers._numpy import NumpySerializer
    from serializers._pickle import CloudpickleSerializer

    return [
        BytesSerializer(), MsgpackSerializer(), NumpySerializer(), ArrowSerializer(),
        CloudpickleSerializer(),
    ]  # fmt: skip


#: The built-ins by encoding (module, class): a registry of the built-ins imports one
#: when a value needs it, so loading a msgpack value imports no ctypes, NumPy or pickle glue.
_BUILTINS = {
    "bytes/1": ("serializers._bytes", "BytesSerializer"),
    "msgpack/1": ("serializers._msgpack", "MsgpackSerializer"),
    "numpy/1": ("serializers._numpy", "NumpySerializer"),
    "arrow-ipc/1": ("serializers._arrow", "ArrowSerializer"),
    "cloudpickle/1": ("serializers._pickle", "CloudpickleSerializer"),
}


class Registry:
    """A set of serializers, tried from the highest priority down.

    ``serializers=None`` means the built-ins. With ``plugins=True`` the
    serializers of the entry-point group ``asyncflow.serializers`` are added
    on first use (never at construction). With ``allow_pickle=False`` values
    whose encoding can run code while loading (``cloudpickle/1``) are refused
    at load time. Instances are safe to share between threads.
    """

    def __init__(
        self,
        serializers: Iterable[Serializer] | None = None,
        *,
        plugins: bool = True,
        allow_pickle: bool = True,
    ) -> None:
        self.allow_pickle = allow_pickle
        self._lock = threading.RLock()
        self._plugins_pending = plugins
        self._by_encoding: dict[str, Serializer] = {}
        self._ordered: tuple[Serializer, ...] = ()
        self._candidates: weakref.WeakKeyDictionary[type, tuple[Serializer, ...]] = (
            weakref.WeakKeyDictionary()
        )
        #: The same for built-in types (which live as long as the process), read without
        #: the lock: most values are ints, strings and the like.
        self._builtin_candidates: dict[type, tuple[Serializer, ...]] = {}
        self._builtins_pending = dict(_BUILTINS) if serializers is None else {}
        for serializer in serializers or ():
            self.register(serializer)

    def register(self, serializer: Serializer, *, replace: bool = False) -> None:
        """Add ``serializer``; an encoding already present needs ``replace=True``."""
        self._load_builtins()
        self._add(serializer, replace)

    def _add(self, serializer: Serializer, replace: bool = False) -> None:
        with self._lock:
            if serializer.encoding in self._by_encoding and not replace:
                raise DuplicateEncodingError(serializer.encoding)
            self._by_encoding[serializer.encoding] = serializer
            # Stable sort: equal priorities keep registration order.
            self._ordered = tuple(sorted(self._by_encoding.values(), key=lambda s: -s.priority))
            self._candidates.clear()
            self._builtin_candidates = {}

    @property
    def serializers(self) -> tuple[Serializer, ...]:
        """The registered serializers, in the order they are tried."""
        self._load_builtins()
        self._load_plugins()
        return self._ordered

    def get(self, encoding: str) -> Serializer | None:
        """The serializer registered for ``encoding``, if any."""
        found = self._by_encoding.get(encoding)
        if found is None and encoding in self._builtins_pending:
            self._load_builtin(encoding)
            found = self._by_encoding.get(encoding)
        if found is not None:  # a plugin never replaces an encoding: no need to scan for one
            return found
        self._load_plugins()
        return self._by_encoding.get(encoding)

    def _load_builtin(self, encoding: str) -> None:
        with self._lock:
            home = self._builtins_pending.pop(encoding, None)
            if home is not None:
                module, name = home
                self._add(getattr(importlib.import_module(module), name)())

    def _load_builtins(self) -> None:
        if self._builtins_pending:
            with self._lock:
                for encoding in list(self._builtins_pending):
                    self._load_builtin(encoding)

    def serialize(
        self, obj: Any, *, artifact: str | None = None, step: str | None = None
    ) -> Encoded:
        """Encode ``obj`` with the first serializer that accepts it.

        ``artifact`` and ``step`` only make error messages useful.
        """
        reasons: list[str] = []
        for serializer in self._candidates_for(obj):
            try:
                result = serializer.serialize(obj)
            except Declined as exc:
                reasons.append(f"{serializer.encoding}: declined: {exc}")
                continue
            except Exception as exc:
                reasons.append(f"{serializer.encoding}: {type(exc).__name__}: {exc}")
                continue
            metadata = dict(result.metadata)
            metadata["type"] = _type_name(type(obj))
            metadata["size"] = sum(map(_nbytes, result.buffers))
            return Encoded(serializer.encoding, list(result.buffers), metadata)
        raise UnserializableError(artifact, step, _type_name(type(obj)), reasons)

    def deserialize(
        self,
        encoding: str,
        buffer: Any,
        metadata: dict[str, Any],
        *,
        artifact: str | None = None,
        allow_pickle: bool = True,
        pickle_hint: str | None = None,
        content: str | None = None,
    ) -> Any:
        """Decode a value stored with ``encoding`` from the concatenated ``buffer``.

        Encodings that run code load only if both this registry and ``allow_pickle``
        allow it; ``pickle_hint`` then replaces the refusal's advice. ``content`` names
        the bytes (their hash, checked by the caller): see
        :meth:`Serializer.deserialize_verified`.
        """
        serializer = self.get(encoding)
        if serializer is None:
            raise UnknownEncodingError(encoding, artifact)
        if serializer.executes_code and not (self.allow_pickle and allow_pickle):
            raise PickleNotAllowedError(artifact, encoding, pickle_hint)
        view = buffer if isinstance(buffer, memoryview) else memoryview(buffer)
        try:
            if content is None:
                return serializer.deserialize(view, metadata)
            return serializer.deserialize_verified(view, metadata, content)
        except Exception as exc:
            raise DeserializationError(artifact, encoding, exc) from exc

    def _candidates_for(self, obj: Any) -> tuple[Serializer, ...]:
        # can_serialize answers for a type, not a value: the answer is cached per
        # type, and value-dependent refusals happen in serialize() via Declined.
        cls = type(obj)
        cached = self._builtin_candidates.get(cls)  # filled once every serializer is loaded
        if cached is not None:
            return cached
        self._load_builtins()
        self._load_plugins()
        with self._lock:
            cached = self._candidates.get(cls)
            ordered = self._ordered
        if cached is not None:
            return cached
        candidates = tuple(s for s in ordered if _accepts(s, obj))
        with self._lock:
            if self._ordered is ordered:
                self._candidates[cls] = candidates
                if cls.__module__ == "builtins":
                    self._builtin_candidates[cls] = candidates
        return candidates

    def _load_plugins(self) -> None:
        if not self._plugins_pending:
            return
        with self._lock:
            if not self._plugins_pending:
                return
            from serializers._entry_points import entry_points

            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._load_plugin(ep)
            self._plugins_pending = False

    def _load_plugin(self, ep: EntryPoint) -> None:
        try:
            serializer = _instantiate(ep.load())
            if serializer.encoding in self._by_encoding:
                raise DuplicateEncodingError(serializer.encoding)
            self.register(serializer)
        except Exception as exc:
            warnings.warn(
                f"skipping serializer plugin {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}",
                SerializerPluginWarning,
                stacklevel=4,
            )


def _accepts(serializer: Serializer, obj: Any) -> bool:
    try:
        return bool(serializer.can_serialize(obj))
    except Exception:
        return False


def _instantiate(loaded: Any) -> Serializer:
    serializer = (
        loaded() if isinstance(loaded, type) or not isinstance(loaded, Serializer) else loaded
    )
    if not isinstance(serializer, Serializer):
        raise TypeError(f"entry point gave {type(serializer).__name__}, not a Serializer")
    return serializer


def _type_name(cls: type) -> str:
    name = _BUILTIN_NAMES.get(cls)
    return name if name is not None else f"{cls.__module__}.{cls.__qualname__}"


_BUILTIN_NAMES = {
    cls: f"builtins.{cls.__qualname__}"
    for cls in (type(None), bool, int, float, complex, str, bytes, list, dict, tuple, set)
}


def _nbytes(buffer: Any) -> int:
    if type(buffer) is bytes:
        return len(buffer)
    with memoryview(buffer) as view:
        return view.nbytes


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide shared registry (built-ins and plugins), created on first call."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Registry()
    return _default
