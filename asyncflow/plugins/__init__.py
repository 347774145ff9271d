"""Metaflow's ``metaflow.plugins`` module paths, for code that imports card classes
from where Metaflow keeps them; the classes live in :mod:`asyncflow.cards`."""

__all__: list[str] = []
