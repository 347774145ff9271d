"""``metaflow.plugins.cards.card_modules.test_cards``: Metaflow's test card types."""

from __future__ import annotations

from ....cards.testing import (
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
