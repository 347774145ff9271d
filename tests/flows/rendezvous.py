"""Helpers for flows that wait on files a test controls (cross-process events)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

TIMEOUT = 120.0


def rendezvous_dir() -> Path:
    """The directory the test shares with the flow (``$RENDEZVOUS_DIR``)."""
    return Path(os.environ["RENDEZVOUS_DIR"])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate()`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)
