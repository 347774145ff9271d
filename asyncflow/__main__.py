"""``python -m asyncflow``: the ``asyncflow`` console script."""

from __future__ import annotations

from .console import main

main()
