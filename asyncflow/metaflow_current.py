"""``current`` at the module path Metaflow code imports it from
(``from metaflow.metaflow_current import current``)."""

from __future__ import annotations

from .current import Current, current

__all__ = ["Current", "current"]
