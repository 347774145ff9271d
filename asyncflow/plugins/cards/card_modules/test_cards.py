"""``metaflow.plugins.cards.card_modules.test_cards``: Metaflow's test card types."""

# Absolute imports: the Metaflow shim may load this file again as metaflow.plugins...
from __future__ import annotations

from asyncflow.cards.testing import (
    TaskSpecCard,
    TestEditableCard,
    TestEditableCard2,
    TestErrorCard,
    TestJSONComponent,
    TestMockCard,
    TestNonEditableCard,
    TestPathSpecCard,
    TestRefreshCard,
    TestStringComponent,
    TestTimeoutCard,
)

__all__ = [
    "TaskSpecCard",
    "TestEditableCard",
    "TestEditableCard2",
    "TestErrorCard",
    "TestJSONComponent",
    "TestMockCard",
    "TestNonEditableCard",
    "TestPathSpecCard",
    "TestRefreshCard",
    "TestStringComponent",
    "TestTimeoutCard",
]
