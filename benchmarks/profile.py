"""``--profile``: sample asyncflow's own runs with py-spy and summarize where time goes.

Payload building and imports are filtered out, so a persist profile shows the engine's
path from the end of the step to the commit, and a foreach profile the scheduler.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import payloads
from .harness import Config, log, run_worker, scratch

TOP = 15

#: Leaf frames of threads that wait (py-spy does not always see them as idle).
IDLE = ("Condition.wait ", "EpollSelector.select ", "Event.wait ", "Thread.join ", "_worker ")


def run(config: Config) -> list[dict[str, Any]]:
    """Profile each selected payload's persist and load, and the largest foreach."""
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, even when not on PATH
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        log("py-spy is not installed: no profiles (pip install '.[bench]')")
        return []
    folder = config.out / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    found: list[dict[str, Any]] = []
    for kind in payloads.KINDS:
        if config.wants(kind) or config.wants("large"):
            found += _persist_and_load(config, spy, kind, folder)
    if config.wants("overhead") and config.tasks:
        tasks = str(max(config.tasks))
        with scratch(config, "prof-foreach-") as tmp:
            # The foreach is Python on the loop: sample only what holds the GIL.
            _sample(spy, tmp / "raw.txt", ["foreach", tasks, str(tmp / "store")], ["--gil"])
            found.append(_summary(folder, f"foreach-{tasks}", tmp / "raw.txt"))
    return found


def _persist_and_load(config: Config, spy: str, kind: str, folder: Path) -> list[dict[str, Any]]:
    # Persisting is mostly I/O and hashing outside the GIL: sample every running thread.
    with scratch(config, f"prof-{kind}-") as tmp:
        store = str(tmp / "store")
        persisted = _sample(spy, tmp / "persist.txt", ["persist", kind, str(config.nbytes), store])
        _sample(spy, tmp / "load.txt", ["load", store, persisted["pathspec"]])
        return [
            _summary(folder, f"persist-{kind}", tmp / "persist.txt"),
            _summary(folder, f"load-{kind}", tmp / "load.txt"),
        ]


def _sample(spy: str, raw: Path, args: list[str], flags: Sequence[str] = ()) -> dict[str, Any]:
    log(f"profiling {' '.join(args[:2])}")
    wrap = [spy, "record", "--nonblocking", "-r", "250", "-f", "raw", *flags, "-o", str(raw), "--"]
    return run_worker(["-m", "benchmarks.af_worker", *args], wrap=wrap).result


def _summary(folder: Path, name: str, raw: Path) -> dict[str, Any]:
    skip = ("payloads.py", "probe.py", "_find_and_load")
    summary = summarize(raw.read_text(), skip=skip, idle=IDLE)
    path = folder / f"{name}.txt"
    path.write_text(summary)
    return {"name": name, "path": str(path), "head": summary.splitlines()[:8]}


def summarize(raw: str, skip: tuple[str, ...] = (), idle: tuple[str, ...] = ()) -> str:
    """Top frames by own and by total samples, from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    kept = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if not stack or any(s in stack for s in skip) or frames[-1].startswith(idle):
            continue
        count = int(count_text)
        kept += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    dropped = ", ".join((*skip, *(i.strip() for i in idle))) or "nothing"
    lines = [f"{kept} samples (4 ms each) after filtering out {dropped}", ""]
    lines += ["own samples (where the CPU is):"]
    lines += [f"  {n:6d} {100 * n / max(kept, 1):5.1f}%  {f}" for f, n in own.most_common(TOP)]
    lines += ["", "total samples (frame on the stack), asyncflow and serializers frames:"]
    ours = [(f, n) for f, n in total.most_common() if "asyncflow/" in f or "serializers/" in f]
    lines += [f"  {n:6d} {100 * n / max(kept, 1):5.1f}%  {f}" for f, n in ours[:TOP]]
    return "\n".join(lines) + "\n"
