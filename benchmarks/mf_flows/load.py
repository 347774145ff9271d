"""Load the payload of a Metaflow run through its client: ``load.py PATHSPEC OUT``."""

from __future__ import annotations

import sys

import numpy  # noqa: F401  (imported before the clock, like in the asyncflow worker)
import pandas  # noqa: F401
import pyarrow  # noqa: F401
from metaflow import Run, namespace

from benchmarks import probe


def main(pathspec: str, out: str) -> None:
    """Time ``Run(pathspec)["start"].task["payload"].data`` alone."""
    namespace(None)
    phase = probe.Phase()
    phase.begin()
    value = Run(pathspec)["start"].task["payload"].data
    phase.end()
    probe.write_result(out, {"load_s": phase.seconds, "type": type(value).__name__,
                             "load_peak_delta": phase.peak - phase.rss_before})  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
