"""The UI in a real browser: Debian's chromium driven by Playwright, against
`asyncflow ui` served by uvicorn in its own process, over a store of real runs.

Screenshots of every page go to the test's tmp dir (and to $UI_SCREENSHOTS, if set,
which is how docs/images/ is made).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncflow.client import get_datastore

from .conftest import REPO
from .ui_store import FilledStore, fill_store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (.ci/debian-packages)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> FilledStore:
    return fill_store(tmp_path_factory.mktemp("browser") / ".asyncflow")


@pytest.fixture(scope="module")
def server(filled: FilledStore) -> Iterator[str]:
    """`asyncflow ui` over the filled store on a free port."""
    with _serving(["--root", str(filled.root)], REPO, dict(os.environ)) as address:
        yield address


@contextlib.contextmanager
def _serving(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """`asyncflow ui ARGS` run in ``cwd`` on a free port, stopped by its PID."""
    port = _free_port()
    cmd = [sys.executable, "-c", "from asyncflow.console import main; main()", "ui",
           *args, "--port", str(port)]  # fmt: skip
    env = {**env, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            pytest.fail(f"asyncflow ui exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Chromium, started after the store is filled (Playwright runs a loop of its own)."""
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=ARGS, viewport={"width": 1200, "height": 900},
        )  # fmt: skip
        yield context
        context.close()


def _shoot(page: object, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
    docs = os.environ.get("UI_SCREENSHOTS")
    if docs:
        page.screenshot(path=str(Path(docs) / f"ui-{name}.png"))  # type: ignore[attr-defined]


def test_click_through_flows_run_task_artifact(
    browser: object, server: str, filled: FilledStore, tmp_path: Path
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/")
    assert page.locator("table.flows a.flow").all_inner_texts() == ["BrokenFlow", "BrowsedFlow"]
    _shoot(page, tmp_path, "flows")
    page.click("text=BrowsedFlow")
    page.wait_for_selector("table.runs")
    assert page.locator(f'a.run:text-is("{filled.browsed}")').count() == 1
    _shoot(page, tmp_path, "runs")
    page.click(f'a.run:text-is("{filled.browsed}")')
    nodes = page.locator("svg.graph a.step")
    assert nodes.evaluate_all("ns => ns.map(n => n.dataset.step)") == [
        "start",
        "fan",
        "join",
        "end",
    ]
    assert page.locator('svg.graph a[data-step="fan"]').get_attribute("data-tasks") == "200"
    assert page.locator("svg.timeline a.tl-step").count() == 4
    assert page.locator("svg.timeline a.tl-task").count() == 200
    widths = page.locator("svg.timeline a.tl-task rect").evaluate_all(
        "rs => rs.map(r => r.getBBox().width)"
    )
    assert min(widths) >= 2
    _shoot(page, tmp_path, "run")
    page.click('svg.graph a[data-step="start"]')
    page.click("a.task")
    assert "<script>alert('log')</script>" in page.inner_text("pre.stdout")  # shown as text
    _shoot(page, tmp_path, "task")
    page.click('a.artifact:text-is("frame")')
    assert page.inner_text("div.preview-table p") == "First 20 of 200000 rows; 3 columns."
    assert page.locator("table.frame tbody tr").count() == 20
    _shoot(page, tmp_path, "artifact")
    page.go_back()
    page.click('a.artifact:text-is("samples")')
    assert page.locator("svg.histogram rect").count() == 30
    _shoot(page, tmp_path, "array")
    page.close()


def test_failed_run_and_hostile_names_in_the_browser(
    browser: object, server: str, filled: FilledStore, tmp_path: Path
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    alerts: list[str] = []

    def on_dialog(dialog: object) -> None:
        alerts.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", on_dialog)
    page.goto(f"{server}/flows/BrokenFlow/{filled.broken}")
    assert "ValueError: the <b>answer</b> is not 42" in page.inner_text("pre.traceback")
    assert page.locator('svg.graph a[data-status="failed"]').get_attribute("data-step") == "explode"
    assert page.locator('svg.graph a[data-status="pending"]').get_attribute("data-step") == "end"
    flaky = page.locator('svg.timeline g.tl-row:has(a.tl-task[data-label^="flaky/"]) a.tl-attempt')
    assert flaky.evaluate_all("as => as.map(a => a.dataset.status)") == ["failed", "successful"]
    boxes = flaky.locator("rect").evaluate_all(
        "rs => rs.map(r => [r.getBBox().x, r.getBBox().width])"
    )
    assert boxes[0][0] + boxes[0][1] <= boxes[1][0] + 0.5 and min(w for _, w in boxes) >= 2
    _shoot(page, tmp_path, "failed-run")
    page.goto(f"{server}/flows/BrowsedFlow/{filled.hostile}/start/1")
    assert page.locator("a.artifact").inner_text() == "<script>alert('name')</script>"
    page.click("a.artifact")
    assert "hello" in page.inner_text("pre.value")
    assert alerts == []
    page.close()


def test_a_running_run_changes_state_without_reloading_by_hand(
    browser: object, server: str, filled: FilledStore, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    code = ("from asyncflow import Runner; from tests.flows.ui_flows import GatedFlow; "
            f"Runner(GatedFlow, datastore_root={str(filled.root)!r}).run()")  # fmt: skip
    env = {**os.environ, "UI_TEST_GATE": str(gate), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    try:
        meta = get_datastore(filled.root).metadata
        deadline = time.monotonic() + 60
        while not meta.list_runs("GatedFlow") or not meta.list_tasks(
            "GatedFlow", meta.list_runs("GatedFlow")[0].run_id
        ):
            assert time.monotonic() < deadline, "the gated run did not start"
            time.sleep(0.1)
        run_id = meta.list_runs("GatedFlow")[0].run_id
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{server}/flows/GatedFlow/{run_id}")
        assert page.locator(".live-status .badge").inner_text() == "running"
        steps = page.locator("svg.graph a.step")
        assert steps.evaluate_all("ns => ns.map(n => n.dataset.status)") == [
            "successful",
            "pending",
            "pending",
        ]  # only start has committed; the rest of the graph is drawn greyed
        _shoot(page, tmp_path, "live-running")
        gate.touch()
        page.wait_for_selector('.live-status .badge[data-status="successful"]', timeout=30_000)
        assert page.locator('svg.graph a.step[data-status="successful"]').count() == 3
        assert page.locator("svg.timeline a.tl-task").count() == 3
        _shoot(page, tmp_path, "live-finished")
        page.close()
    finally:
        gate.touch()
        proc.wait(60)


def test_the_readmes_tutorial_store_in_the_browser(browser: object, tmp_path: Path) -> None:
    """README's first flow run as README says, then `asyncflow ui` where it ran (the store
    found as the client finds it): the run, its graph, timeline, logs and artifacts."""
    readme = (REPO / "README.md").read_text()
    code = re.search(r'```python title="artifact_flow.py"\n(.*?)```', readme, re.S)
    assert code is not None
    (tmp_path / "artifact_flow.py").write_text(code.group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCFLOW_")}
    env["HOME"] = str(tmp_path)
    run_env = {**env, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "artifact_flow.py", "run"], cwd=tmp_path, check=True,
                   env=run_env, capture_output=True, timeout=300)  # fmt: skip
    with _serving([], tmp_path, env) as address:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(address + "/")
        page.click("a.flow:text-is('ArtifactFlow')")
        page.click("a.run:text-is('1')")
        statuses = page.locator("svg.graph a.step").evaluate_all(
            "ns => ns.map(n => [n.dataset.step, n.dataset.status])"
        )
        assert statuses == [["start", "successful"], ["create_artifact", "successful"],
                            ["end", "successful"]]  # fmt: skip
        assert page.locator("svg.timeline a.tl-task").count() == 3
        assert page.locator("svg.timeline a.tl-attempt").count() == 3
        _shoot(page, tmp_path, "tutorial-run")
        page.click('svg.graph a[data-step="end"]')
        page.click("a.task")
        assert page.inner_text("pre.stdout").strip() == "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]"
        assert page.locator("a.artifact").all_inner_texts() == ["dataset"]
        page.click("a.artifact:text-is('dataset')")
        assert json.loads(page.inner_text("pre.value")) == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        _shoot(page, tmp_path, "tutorial-artifact")
        page.close()
