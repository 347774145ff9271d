"""`python flow.py card get|list|view` as real processes, and `run --with card`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from asyncflow.cards import get_cards
from asyncflow.client import Flow
from asyncflow.store import StoreURLs

from .conftest import REPO, run_python
from .servers import Postgres, S3Server

SCRIPT = str(REPO / "tests" / "flows" / "cards_script.py")


@pytest.fixture(scope="module")
def card_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store with one CardScriptFlow run, shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("cards") / "store"
    run_python(SCRIPT, "run", root=root, check=True)
    return root


def test_list_as_json_names_each_card(card_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "cards.json"
    proc = run_python(SCRIPT, "card", "list", "1/start/1", "--as-json", "--file", str(out),
                      root=card_root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(out.read_text())
    assert listing["pathspec"] == "CardScriptFlow/1/start/1"
    assert [(c["type"], c["id"]) for c in listing["cards"]] == [("test_pathspec_card", None)] * 2
    first = listing["cards"][0]
    assert first["filename"] == f"test_pathspec_card-{first['hash']}.html"


def test_list_of_a_step_covers_its_tasks(card_root: Path) -> None:
    proc = run_python(SCRIPT, "card", "list", "each", root=card_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Cards of CardScriptFlow/1/each/") == 2
    assert proc.stdout.count("type test_editable_card  id mine  hash ") == 2


def test_get_writes_the_card_chosen_by_a_hash_prefix(card_root: Path, tmp_path: Path) -> None:
    cards = get_cards("CardScriptFlow/1/start/1", root=card_root)
    target = tmp_path / "card.html"
    proc = run_python(SCRIPT, "card", "get", "1/start/1", str(target), "--hash",
                      cards[1].hash[:6], root=card_root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == cards[1].get()
    assert target.read_text().startswith("CardScriptFlow/1/start/1 ")
    assert cards[0].get() != cards[1].get()  # random suffixes: two cards, two renders


def test_get_prints_one_card_and_refuses_to_guess(card_root: Path) -> None:
    each = sorted(t.id for t in Flow("CardScriptFlow", root=card_root)["1"]["each"])
    proc = run_python(SCRIPT, "card", "get", f"1/each/{each[0]}", "--id", "mine", root=card_root)
    assert (proc.returncode, proc.stdout) == (0, "item 1"), proc.stderr
    proc = run_python(SCRIPT, "card", "get", "1/start/1", root=card_root)
    assert proc.returncode == 1
    assert "Several cards match" in proc.stderr and "choose one with --hash" in proc.stderr


def test_missing_cards_are_named(card_root: Path) -> None:
    proc = run_python(SCRIPT, "card", "get", "1/end/5", "--type", "default", root=card_root)
    assert proc.returncode == 1
    assert "Card not found" in proc.stderr
    assert "task 'CardScriptFlow/1/end/5' has no card with type 'default'" in proc.stderr
    proc = run_python(SCRIPT, "card", "list", "1/start/1", "--type", "blank", root=card_root)
    assert proc.returncode == 1 and "Card not found" in proc.stderr
    proc = run_python(SCRIPT, "card", "get", "1/start/99", root=card_root)
    assert proc.returncode == 1 and "task 'CardScriptFlow/1/start/99' does not exist" in proc.stderr


def test_view_opens_the_card_in_the_browser(card_root: Path, tmp_path: Path) -> None:
    browser = tmp_path / "browser.sh"
    opened = tmp_path / "opened.txt"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    os.environ["BROWSER"] = str(browser)
    try:
        proc = run_python(SCRIPT, "card", "view", "1/start/1", "--hash",
                          get_cards("CardScriptFlow/1/start/1", root=card_root)[0].hash,
                          root=card_root)  # fmt: skip
    finally:
        del os.environ["BROWSER"]
    assert proc.returncode == 0, proc.stderr
    written = Path(proc.stdout.strip())
    assert opened.read_text().strip() == f"file://{written}"
    assert written.read_text().startswith("CardScriptFlow/1/start/1 ")


def test_run_with_card_adds_a_default_card_to_every_step(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run_python(SCRIPT, "run", "--with", "card", root=root, check=True)
    run = Flow("CardScriptFlow", root=root)["1"]
    end = run["end"].task
    assert end is not None
    assert [c.type for c in get_cards(end)] == ["default"]
    start = run["start"].task
    assert start is not None
    assert [c.type for c in get_cards(start)] == ["test_pathspec_card"] * 2  # it had cards


def test_cards_live_in_s3_and_postgresql_like_artifacts(
    store_root: Path, s3_server: S3Server, postgres_server: Postgres
) -> None:
    env = {
        **os.environ,
        "ASYNCFLOW_DATASTORE": s3_server.fresh_url(),
        "ASYNCFLOW_METADATA": postgres_server.fresh_url(),
        "PYTHONPATH": str(REPO),
    }
    run = subprocess.run([sys.executable, SCRIPT, "run"], env=env, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not store_root.exists()  # nothing went to the local store
    urls = StoreURLs(env["ASYNCFLOW_DATASTORE"], env["ASYNCFLOW_METADATA"])
    each = sorted(Flow("CardScriptFlow", root=urls)["1"]["each"], key=lambda t: int(t.id))
    [mine] = get_cards(each[1], id="mine")
    assert mine.get() == "item 2"
    got = subprocess.run(
        [sys.executable, SCRIPT, "card", "get", f"1/each/{each[1].id}", "--hash", mine.hash[:8]],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (got.returncode, got.stdout) == (0, "item 2"), got.stderr
