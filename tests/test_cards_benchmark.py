"""A tiny run of benchmarks/cards.py: every variant runs and gives a figure (no time asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cards import FLOWS, main, measure


def test_the_card_benchmark_measures_every_variant(
    store_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    per_task = measure(tasks=3, repeats=1)
    assert set(per_task) == set(FLOWS) and all(ms > 0 for ms in per_task.values())
    main(["--tasks", "2", "--repeats", "1"])
    assert "default card:" in capsys.readouterr().out
