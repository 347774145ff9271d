"""A tiny run of the benchmark harness: every payload and suite runs, the results have their shape.

No time is asserted: sizes are tiny and the machine is shared.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.payloads import KINDS
from benchmarks.profile import summarize
from tests.conftest import REPO

LARGE_KEYS = {
    "payload", "system", "repeats", "payload_bytes", "payload_rss", "persist_s", "persist_best_s",
    "persist_cpu_s", "load_s", "disk_bytes", "peak_over_flow", "loaded_type", "samples",
}  # fmt: skip
OVERHEAD_KEYS = {
    "system", "tasks", "repeats", "run_s", "process_s", "per_task_ms", "cpu_s",
    "cpu_per_task_ms", "samples",
}  # fmt: skip


def test_tiny_run_writes_table_json_and_chart(tmp_path: Path) -> None:
    has_chart = importlib.util.find_spec("matplotlib") is not None
    out = tmp_path / "results"
    argv = ["--size-mb", "1", "--tasks", "10", "--repeats", "1", "--no-metaflow",
            "--out", str(out), "--workdir", str(tmp_path / "work"),
            *([] if has_chart else ["--no-chart"])]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr

    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"meta", "large", "overhead", "targets"}
    pairs = [(r["payload"], r["system"]) for r in results["large"]]
    assert pairs == [(k, s) for k in KINDS for s in ("asyncflow", "raw", "pickle")]
    assert all(set(r) == LARGE_KEYS and r["repeats"] == 1 for r in results["large"])
    loaded = {r["payload"]: r["loaded_type"] for r in results["large"] if r["system"] != "raw"}
    assert loaded == {"frame_numeric": "DataFrame", "frame_strings": "DataFrame",
                      "arrow_table": "Table", "numpy_array": "ndarray",
                      "object_array": "Holder", "dicts": "list"}  # fmt: skip
    [row] = results["overhead"]
    assert set(row) == OVERHEAD_KEYS and (row["system"], row["tasks"]) == ("asyncflow", 10)
    assert results["meta"]["metaflow"] == "not run (--no-metaflow)"
    assert [t["target"] for t in results["targets"]][:2] == [
        "arrow_table: persist speed / raw write speed",
        "arrow_table: load (memory-mapped), s",
    ]

    table = (out / "results.md").read_text()
    for heading in ("## Targets", "## Large artifacts (1 MiB", "## Engine overhead"):
        assert heading in table
    assert table.count("| asyncflow |") == len(KINDS) + 1  # and the overhead row
    assert (out / "results.png").exists() == has_chart


def test_profile_summary_counts_own_and_total_samples() -> None:
    raw = "\n".join([
        "main (a.py:1);persist (asyncflow/store/datastore.py:9);write (x.py:2) 3",
        "main (a.py:1);persist (asyncflow/store/datastore.py:9) 1",
        "main (a.py:1);make (benchmarks/payloads.py:5) 7",
    ])  # fmt: skip
    assert summarize(raw, skip=("payloads.py",)).splitlines() == [
        "4 samples (4 ms each) after filtering out payloads.py",
        "",
        "own samples (where the CPU is):",
        "       3  75.0%  write (x.py:2)",
        "       1  25.0%  persist (asyncflow/store/datastore.py:9)",
        "",
        "total samples (frame on the stack), asyncflow and serializers frames:",
        "       4 100.0%  persist (asyncflow/store/datastore.py:9)",
    ]


def test_trust_costs_measure_verification_and_ipc_validation_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import trust_costs

    trust_costs.main(["--size-mb", "2", "--repeats", "1", "--workdir", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| payload | blob | load, no hash | first verified load |")
    assert [line.split("|")[1].strip() for line in lines[2:5]] == list(trust_costs.KINDS)
    assert [line.split("|")[1].strip() for line in lines[8:]] == list(trust_costs.ARROW_KINDS)
    assert all(line.endswith("x |") for line in lines[8:])  # a ratio in the same run


def test_scale_benchmark_runs_and_lists_every_task() -> None:
    from benchmarks import scale

    rows = scale.main(["--tasks", "3", "--repeats", "1"])
    assert [row["tasks"] for row in rows] == [3]
    assert rows[0]["peak_mb"] > 0 and rows[0]["list_s"] > 0


def test_persist_speed_benchmark_compares_with_the_raw_write() -> None:
    from benchmarks import persist_speed

    rows = persist_speed.main(["--size-mb", "2", "--repeats", "1"])
    assert [row["fsync"] for row in rows] == [0.0, 1.0]
    assert all(row["raw_s"] > 0 and row["ratio"] > 0 and row["paired"] > 0 for row in rows)


def test_loop_lag_benchmark_runs_the_engine_beside_a_blocking_loop(tmp_path: Path) -> None:
    import asyncio

    from benchmarks import loop_lag

    rows = asyncio.run(loop_lag.measure_engine(2 * 1024 * 1024, 1, tmp_path))
    assert [row["kind"] for row in rows] == ["numpy array", "bytes", "str", "tuple of bytes"]
    assert all(isinstance(row[k], float) for row in rows for k in ("engine ms", "blocking ms"))
    assert loop_lag.engine_table(rows).count("\n") == 5


@pytest.mark.slow
def test_round_two_runs_every_goal_beside_its_baseline(tmp_path: Path) -> None:
    from benchmarks import round_two

    out = tmp_path / "round-two.json"
    figures = round_two.main(["--repeats", "1", "--tasks", "3", "--no-big", "--size-mb", "2",
                              "--out", str(out), "--no-chart"])  # fmt: skip
    assert json.loads(out.read_text())["cpu_per_task_ms"] == figures["cpu_per_task_ms"]
    assert {"python -c pass", "import asyncflow", "asyncflow: small read",
            "asyncflow: tutorial"} <= set(figures["startup_cpu_s"])  # fmt: skip
    assert list(figures["cpu_per_task_ms"]) == ["3 tasks"]
    assert set(figures["persist_vs_raw"]) == {"no fsync", "fsync"}


def test_ui_benchmark_measures_every_page_beside_the_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import ui

    ui.main(["--runs", "60", "--tasks", "450", "--repeats", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[0] == "| page | median ms | x baseline |" and len(rows) == 10
    assert rows[1].startswith("| baseline: a trivial Starlette route |")
    assert rows[1].endswith("| 1.0 |")
    assert any(r.startswith("| run (450-task foreach), timeline page 1 |") for r in rows)


def test_supervisor_benchmark_pairs_runs_with_and_without_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import supervisor

    diffs = supervisor.main(["--pairs", "1"])
    assert set(diffs) == {"wall", "cpu"}
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [r.split(" |")[0] for r in rows] == ["| tutorial run", "| wall", "| cpu"]
