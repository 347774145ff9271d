"""``metaflow.plugins.cards``: see :mod:`asyncflow.cards`."""

__all__: list[str] = []
