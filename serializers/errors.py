"""Errors raised while turning values into buffers and back.

Catch at the level you need::

    SerializationError                 base of everything raised here
    ├── Declined                       a serializer passes; the registry tries the next one
    ├── UnserializableError            no serializer accepts a value
    ├── DuplicateEncodingError         two serializers claim the same encoding
    └── LoadError                      a stored value cannot be turned back into an object
        ├── UnknownEncodingError       no serializer for the stored encoding (missing plugin?)
        ├── PickleNotAllowedError      the encoding runs code and allow_pickle=False
        └── DeserializationError       the serializer failed while decoding

    SerializerPluginWarning            a broken entry-point plugin was skipped (a warning)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ENTRY_POINT_GROUP",
    "Declined",
    "DeserializationError",
    "DuplicateEncodingError",
    "LoadError",
    "PickleNotAllowedError",
    "SerializationError",
    "SerializerPluginWarning",
    "UnknownEncodingError",
    "UnserializableError",
]

#: The entry-point group third-party serializers are registered under.
ENTRY_POINT_GROUP = "asyncflow.serializers"


class SerializationError(Exception):
    """Base class of the errors raised by the serializers package."""


class Declined(SerializationError):
    """Raised by ``Serializer.serialize`` to let the next serializer try."""


class UnserializableError(SerializationError):
    """No registered serializer could encode a value."""

    def __init__(
        self,
        artifact: str | None,
        step: str | None,
        type_name: str,
        reasons: Sequence[str],
    ) -> None:
        self.artifact = artifact
        self.step = step
        self.type_name = type_name
        self.reasons = list(reasons)
        what = _describe(artifact, step)
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        super().__init__(
            f"cannot serialize {what}: no serializer accepts a value of type {type_name!r}{why}"
        )


class DuplicateEncodingError(SerializationError):
    """A serializer was registered for an encoding that already has one."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        super().__init__(
            f"a serializer for encoding {encoding!r} is already registered; "
            "pass replace=True to register() to override it"
        )


class LoadError(SerializationError):
    """Base class of the errors raised while loading a stored value."""


class UnknownEncodingError(LoadError):
    """A stored value names an encoding no registered serializer provides."""

    def __init__(self, encoding: str, artifact: str | None = None) -> None:
        self.encoding = encoding
        self.artifact = artifact
        super().__init__(
            f"cannot deserialize {_describe(artifact, None)}: no serializer for encoding "
            f"{encoding!r} is registered; install the plugin that provides it (plugins "
            f"register through the entry-point group {ENTRY_POINT_GROUP!r}) "
            "or call registry.register(...)"
        )


class PickleNotAllowedError(LoadError):
    """Loading was refused because the encoding can run code and pickle is not allowed."""

    def __init__(
        self, artifact: str | None = None, encoding: str = "cloudpickle/1", hint: str | None = None
    ) -> None:
        self.artifact = artifact
        self.encoding = encoding
        hint = hint or (
            "this registry was created with allow_pickle=False; if you trust where the "
            "data comes from, load it with Registry(allow_pickle=True)"
        )
        super().__init__(
            f"refusing to deserialize {_describe(artifact, None)}: its encoding "
            f"{encoding!r} can run arbitrary code while loading, and {hint}"
        )


class DeserializationError(LoadError):
    """A serializer failed while decoding a stored value."""

    def __init__(self, artifact: str | None, encoding: str, cause: BaseException) -> None:
        self.artifact = artifact
        self.encoding = encoding
        self.cause = cause
        super().__init__(
            f"cannot deserialize {_describe(artifact, None)} with encoding {encoding!r}: "
            f"{type(cause).__name__}: {cause}"
        )


class SerializerPluginWarning(UserWarning):
    """Warned when an entry-point plugin cannot be loaded; the plugin is skipped."""


def _describe(artifact: str | None, step: str | None) -> str:
    what = "value" if artifact is None else f"artifact {artifact!r}"
    return what if step is None else f"{what} in step {step!r}"
