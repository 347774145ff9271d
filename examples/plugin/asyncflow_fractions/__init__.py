"""An example serializer plugin: exact ``Fraction`` and ``Decimal`` values."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar

from serializers import Serialized, Serializer

__all__ = ["FractionSerializer"]

_KINDS: dict[type, str] = {Fraction: "fraction", Decimal: "decimal"}


class FractionSerializer(Serializer):
    """``Fraction`` as ``"numerator/denominator"``, ``Decimal`` as its exact ``str``.

    Subclasses are not accepted (they would come back as the base class).
    """

    encoding: ClassVar[str] = "fractions/1"
    priority: ClassVar[int] = 50

    def can_serialize(self, obj: Any) -> bool:
        """Whether ``obj`` is exactly a ``Fraction`` or a ``Decimal``."""
        return type(obj) in _KINDS

    def serialize(self, obj: Any) -> Serialized:
        """The value as UTF-8 text; ``kind`` in the metadata says which type."""
        text = str(obj) if type(obj) is Decimal else f"{obj.numerator}/{obj.denominator}"
        return Serialized([text.encode()], {"kind": _KINDS[type(obj)], "text": text[:40]})

    def deserialize(self, buffer: memoryview, metadata: dict[str, Any]) -> Any:
        """Parse the text back into the original type."""
        text = bytes(buffer).decode()
        return Decimal(text) if metadata["kind"] == "decimal" else Fraction(text)
