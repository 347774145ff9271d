"""Results: the targets checked, a Markdown table, JSON, and a PNG chart."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from .harness import REPO, Config, log

MB = 1 << 20
SYSTEMS = ("asyncflow", "raw", "pickle", "metaflow")


def machine(config: Config) -> dict[str, Any]:
    """What ran the benchmarks: date, CPU, memory, disk, Python, commit."""
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / (1 << 20), 1),
        "disk": _filesystem(config.workdir),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "load_average_at_start": _load_average(),
    }


def targets(large: list[dict[str, Any]], overhead: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, each as measured value, goal and whether it was met."""
    rows = {(r["payload"], r["system"]): r for r in large}
    found: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: str, met: bool | None) -> None:
        found.append({"target": name, "value": value, "goal": goal, "met": met})

    for kind in ("arrow_table", "numpy_array"):
        af, raw = rows.get((kind, "asyncflow")), rows.get((kind, "raw"))
        if af and raw:
            speed = raw["persist_s"] / af["persist_s"]
            add(f"{kind}: persist speed / raw write speed", speed, ">= 0.5", speed >= 0.5)
            add(f"{kind}: load (memory-mapped), s", af["load_s"], "< 0.050", af["load_s"] < 0.05)
    for (kind, system), row in rows.items():
        ratio = peak_ratio(row)
        if system == "asyncflow" and ratio is not None:
            add(f"{kind}: peak RSS over the flow's / payload", ratio, "<= 1.3", ratio <= 1.3)
    af, mf = rows.get(("frame_numeric", "asyncflow")), rows.get(("frame_numeric", "metaflow"))
    if af and mf:
        persist = mf["persist_s"] / af["persist_s"]
        load = mf["load_s"] / af["load_s"]
        add("frame_numeric: Metaflow persist time / asyncflow's", persist, ">= 30", persist >= 30)
        add("frame_numeric: Metaflow load time / asyncflow's", load, ">= 100", load >= 100)
    mine = [r for r in overhead if r["system"] == "asyncflow"]
    if mine:
        big = max(mine, key=lambda r: r["tasks"])
        per_task = big["per_task_ms"]
        add(f"per-task overhead at {big['tasks']} tasks, ms", per_task, "<= 1.0", per_task <= 1.0)
        if big["tasks"] >= 10_000:
            add(f"{big['tasks']} trivial tasks, s", big["run_s"], "< 10", big["run_s"] < 10)
    return found


def peak_ratio(row: dict[str, Any]) -> float | None:
    """Peak RSS above the flow's own, as a multiple of the payload's size in memory."""
    over, size = row.get("peak_over_flow"), row.get("payload_rss")
    if over is None:
        return None
    if not size or size <= 0:
        size = row["payload_bytes"]
    return float(over) / float(size)


def write(config: Config, results: dict[str, Any]) -> list[Path]:
    """Write ``results.json``, ``results.md`` and (with matplotlib) ``results.png``."""
    config.out.mkdir(parents=True, exist_ok=True)
    paths = [config.out / "results.json", config.out / "results.md"]
    paths[0].write_text(json.dumps(results, indent=1) + "\n")
    paths[1].write_text(markdown(results))
    if config.chart:
        try:
            from .chart import draw
        except ImportError:
            log("matplotlib is not installed: no chart (pip install '.[bench]')")
        else:
            paths.append(draw(results, config.out / "results.png"))
    return paths


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown page."""
    meta = results["meta"]
    lines = [
        "# asyncflow benchmark results", "",
        f"`{meta['command']}` on {meta['machine']['date_utc']}, commit "
        f"{meta['machine']['commit']}. Machine: {_machine_line(meta['machine'])}.",
        f"Metaflow: {meta['metaflow']}.", "",
        "Every figure is a median of repeated runs in fresh processes, measured in the same "
        "run on the same disk; see `benchmarks/README.md` for what each one times.", "",
    ]  # fmt: skip
    lines += _targets_table(results["targets"])
    lines += _large_table(results["large"], meta["config"])
    lines += _overhead_table(results["overhead"])
    lines += _profiles(results.get("profiles", []))
    return "\n".join(lines) + "\n"


def _profiles(profiles: list[dict[str, Any]]) -> list[str]:
    if not profiles:
        return []
    lines = ["## Where the time goes (py-spy, asyncflow's own runs)", ""]
    for p in profiles:
        lines += [f"`{Path(p['path']).name}` (full summary in `profiles/`):", "", "```"]
        lines += [*p["head"], "```", ""]
    return lines


def _targets_table(found: list[dict[str, Any]]) -> list[str]:
    lines = ["## Targets", "", "| target | measured | goal | met |", "|---|---:|---|---|"]
    for t in found:
        verdict = {True: "yes", False: "**MISSED**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['target']} | {_num(t['value'])} | {t['goal']} | {verdict} |")
    return [*lines, ""]


def _large_table(rows: list[dict[str, Any]], config: dict[str, Any]) -> list[str]:
    lines = [
        f"## Large artifacts ({config['size_mb']} MiB; strings frame half of that)", "",
        "| payload | system | runs | persist s (best) | speed vs raw write | persist CPU s "
        "| load s | on disk MB | peak over flow MB | peak / payload |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    raw = {r["payload"]: r for r in rows if r["system"] == "raw"}
    for r in rows:
        base = raw.get(r["payload"])
        speed = base["persist_s"] / r["persist_s"] if base and r["persist_s"] else None
        over = r["peak_over_flow"] / MB if r["peak_over_flow"] is not None else None
        lines.append(
            f"| {r['payload']} | {r['system']} | {r['repeats']} "
            f"| {_num(r['persist_s'])} ({_num(r['persist_best_s'])}) "
            f"| {_num(speed)} | {_num(r['persist_cpu_s'])} | {_num(r['load_s'])} "
            f"| {_num(r['disk_bytes'] / MB if r['disk_bytes'] else None)} "
            f"| {_num(over)} | {_num(peak_ratio(r) if r['system'] != 'raw' else None)} |"
        )
    return [*lines, ""]


def _overhead_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Engine overhead (trivial foreach)", "",
        "| system | tasks | runs | run s | per task ms | CPU per task ms | whole process s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['tasks']:,} | {r['repeats']} | {_num(r['run_s'])} "
            f"| {_num(r['per_task_ms'])} | {_num(r['cpu_per_task_ms'])} | {_num(r['process_s'])} |"
        )
    return [*lines, ""]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _machine_line(m: dict[str, Any]) -> str:
    load = ", ".join(map(str, m.get("load_average_at_start") or []))
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['disk']}, "
        f"Python {m['python']}; load average at start {load} (the machine is shared)"
    )


def _load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _meminfo_kib(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _filesystem(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    try:
        out = (
            subprocess.run(["df", "-T", str(path)], capture_output=True, text=True, check=True)
            .stdout.splitlines()[-1]
            .split()
        )
        return f"{out[1]} on {out[0]}"
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown disk"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
