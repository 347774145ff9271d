"""Process memory and time probes, shared by every benchmark worker.

Peak RSS is read from ``/proc/self/status`` (``VmHWM``) after resetting it through
``/proc/self/clear_refs``, so a peak measured around one phase is that phase's own,
not a leftover from building the payload. Without /proc, ``getrusage`` is the fallback.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss() -> int:
    """Current resident set size in bytes."""
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else peak()


def peak() -> int:
    """Peak resident set size in bytes since the last :func:`reset_peak`."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak() -> bool:
    """Make the current RSS the new peak (Linux); False where that is not possible."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


@dataclass
class Phase:
    """One measured phase: memory before it, wall time and peak memory across it."""

    rss_before: int = 0
    started: float = 0.0
    seconds: float = 0.0
    cpu_started: float = 0.0
    #: CPU time of the whole process (every thread, user + system) across the phase.
    cpu_seconds: float = 0.0
    peak: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def begin(self) -> None:
        """Reset the peak and start the clock."""
        reset_peak()
        self.rss_before = rss()
        self.cpu_started = time.process_time()
        self.started = time.perf_counter()

    def end(self) -> None:
        """Stop the clock and read the peak."""
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu_started
        self.peak = peak()

    def to_json(self) -> str:
        """The phase as one JSON line."""
        return json.dumps(asdict(self))


def write_result(path: str | Path, result: dict[str, Any]) -> None:
    """Write a worker's result where the harness reads it."""
    Path(path).write_text(json.dumps(result))
