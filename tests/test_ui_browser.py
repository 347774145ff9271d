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
from .servers import Postgres, S3Server
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


def _shoot(page: object, tmp_path: Path, name: str, focus: str | None = None) -> None:
    """The whole page into the test's tmp dir; for the docs, one window of it (scrolled
    to show ``focus`` whole, if given)."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
    docs = os.environ.get("UI_SCREENSHOTS")
    if docs:
        if focus:
            page.locator(focus).evaluate("e => e.scrollIntoView({block: 'end'})")  # type: ignore[attr-defined]
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
    _shoot(page, tmp_path, "array", focus="div.preview-array")
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


def test_a_tasks_card_renders_in_a_frame_that_cannot_reach_the_ui(
    browser: object, server: str, filled: FilledStore, tmp_path: Path
) -> None:
    end = get_datastore(filled.root).metadata.list_tasks("BrowsedFlow", filled.browsed, "end")
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server}/flows/BrowsedFlow/{filled.browsed}/end/{end[0].task_id}")
    card = page.frame_locator("iframe.card").locator("h1")
    playwright_api.expect(card).to_have_text("Total: computed", timeout=30_000)
    (frame,) = [f for f in page.frames if "/cards/0" in f.url]
    reach = """() => { try { return parent.document.title; } catch (e) { return e.name; } }"""
    assert frame.evaluate(reach) == "SecurityError"  # the card's scripts: another origin
    assert frame.evaluate("() => self.origin") == "null"  # an opaque one
    assert page.evaluate(reach) != "SecurityError"  # the probe itself works at the top
    _shoot(page, tmp_path, "card")
    page.close()


def _statuses(page: object) -> list[str]:
    steps = page.locator("svg.graph a.step")  # type: ignore[attr-defined]
    return list(steps.evaluate_all("ns => ns.map(n => n.dataset.status)"))


def _tasks_shown(page: object, count: int) -> None:
    """Wait until the task timeline holds ``count`` bars."""
    bars = page.locator("svg.timeline a.tl-task")  # type: ignore[attr-defined]
    playwright_api.expect(bars).to_have_count(count, timeout=30_000)


def test_a_running_run_changes_state_without_reloading_by_hand(
    browser: object, server: str, filled: FilledStore, tmp_path: Path
) -> None:
    """A run of another process: the page polls through the server, the timeline grows
    in place as tasks commit, and the page shows the run's end."""
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
        # only start has committed; the rest of the graph is drawn greyed
        assert _statuses(page) == ["successful", "pending", "pending", "pending"]
        assert page.locator("svg.timeline a.tl-task").count() == 1
        page.evaluate("window.sameDocument = true")  # gone if the page reloads
        _shoot(page, tmp_path, "live-running")
        gate.touch()
        _tasks_shown(page, 2)
        assert page.evaluate("window.sameDocument === true")  # updated in place
        assert _statuses(page) == ["successful", "successful", "pending", "pending"]
        assert page.locator(".live-status .badge").inner_text() == "running"
        Path(f"{gate}.2").touch()
        page.wait_for_selector('.live-status .badge[data-status="successful"]', timeout=30_000)
        assert _statuses(page) == ["successful"] * 4
        assert page.locator("svg.timeline a.tl-task").count() == 4
        for fact in ("finished", "duration"):  # shown once the run ended (they were -)
            assert page.inner_text(f"table.facts tr:has(th:text-is('{fact}')) td") != "-"
        _shoot(page, tmp_path, "live-finished")
        page.close()
    finally:
        gate.touch()
        Path(f"{gate}.2").touch()
        proc.wait(60)


def test_a_run_in_the_uis_own_process_is_followed_through_its_events(
    browser: object, tmp_path: Path
) -> None:
    """The app and a run in one process (tests/ui_live_app.py): server-sent events from
    the engine's events, and the running tasks the store does not know of yet drawn on
    the timeline, the page never reloaded until the run ends."""
    root, gate, port = tmp_path / ".asyncflow", tmp_path / "gate", _free_port()
    env = {**os.environ, "UI_TEST_GATE": str(gate), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tests.ui_live_app", str(root), str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    try:
        page = browser.new_page()  # type: ignore[attr-defined]
        run = f"http://127.0.0.1:{port}/flows/GatedFlow/1"
        deadline = time.monotonic() + 60
        while not _opens(page, run):
            assert proc.poll() is None and time.monotonic() < deadline, "no run page"
            time.sleep(0.2)
        running = 'svg.timeline a.tl-task[data-status="running"]'
        page.wait_for_selector(f'{running}[data-label^="wait/"]', timeout=30_000)
        assert "(+1 running)" in page.inner_text("#live h3")
        steps = page.locator("svg.timeline a.tl-step").evaluate_all(
            "bs => bs.map(b => [b.dataset.label, b.dataset.status])"
        )
        assert steps == [["start", "successful"], ["wait", "running"]]
        starts = [
            page.locator(f"svg.timeline a.{kind} rect").first.evaluate("r => r.getBBox().x")
            for kind in ("tl-step", "tl-task")
        ]
        assert starts[0] == pytest.approx(starts[1], abs=0.5)  # both timelines on one axis
        assert _statuses(page) == ["successful", "running", "pending", "pending"]
        first = page.evaluate("""() => new Promise(done => {
            const source = new EventSource(document.getElementById("live").dataset.events);
            source.addEventListener("change", e => { source.close(); done(e.data); });
        })""")
        assert json.loads(first)[0] == "events"  # not the store's polled state
        page.evaluate("window.sameDocument = true")
        _shoot(page, tmp_path, "live-events")
        gate.touch()
        page.wait_for_selector(f'{running}[data-label^="more/"]', timeout=30_000)
        assert page.evaluate("window.sameDocument === true")
        assert page.locator(running).count() == 1
        assert _statuses(page) == ["successful", "successful", "running", "pending"]
        Path(f"{gate}.2").touch()
        page.wait_for_selector('.live-status .badge[data-status="successful"]', timeout=30_000)
        assert page.locator(running).count() == 0
        assert page.locator("svg.timeline a.tl-task").count() == 4
        page.close()
    finally:
        gate.touch()
        Path(f"{gate}.2").touch()
        proc.terminate()
        proc.wait(30)


def _opens(page: object, address: str) -> bool:
    """Whether ``address`` answers 200 (False while the server or the run is not up)."""
    try:
        response = page.goto(address)  # type: ignore[attr-defined]
    except playwright_api.Error:
        return False
    return response is not None and response.status == 200


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
        assert page.locator(".live-status .badge").inner_text() == "successful"
        bars = page.locator("svg.timeline a.tl-task").evaluate_all(
            "bs => bs.map(b => [b.dataset.label, b.dataset.status])"
        )
        assert [label.split("/")[0] for label, _ in bars] == ["start", "create_artifact", "end"]
        assert len({label for label, _ in bars}) == 3 and {s for _, s in bars} == {"successful"}
        assert page.locator("svg.timeline a.tl-attempt").count() == 3
        _shoot(page, tmp_path, "tutorial-run")
        page.click('svg.graph a[data-step="end"]')
        page.click("a.task")
        assert page.inner_text("pre.stdout").strip() == "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]"
        assert page.locator("a.artifact").all_inner_texts() == ["dataset"]
        page.click("a.artifact:text-is('dataset')")
        assert json.loads(page.inner_text("pre.value")) == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        assert page.locator("a.download").all_inner_texts() == ["Download .json"]
        _shoot(page, tmp_path, "tutorial-artifact")
        page.close()


@pytest.mark.slow
def test_the_ui_over_s3_and_postgresql(
    browser: object, tmp_path: Path, s3_server: S3Server, postgres_server: Postgres
) -> None:
    """`asyncflow ui` over a shared store (the store found as the client finds it, from
    $ASYNCFLOW_DATASTORE and $ASYNCFLOW_METADATA): the same pages, previews and cards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCFLOW_")}
    env.update(ASYNCFLOW_DATASTORE=s3_server.fresh_url(),
               ASYNCFLOW_METADATA=postgres_server.fresh_url(), HOME=str(tmp_path))  # fmt: skip
    code = ("from asyncflow import Runner; from tests.flows.ui_flows import BrowsedFlow; "
            "print(Runner(BrowsedFlow).run(width=3).status)")  # fmt: skip
    ran = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env={**env, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert ran.stdout.strip() == "successful", ran.stderr
    assert not (tmp_path / ".asyncflow").exists()  # nothing went to a local store
    with _serving([], tmp_path, env) as address:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(address + "/")
        page.click("a.flow:text-is('BrowsedFlow')")
        page.click("a.run:text-is('1')")
        assert page.locator('svg.graph a[data-step="fan"]').get_attribute("data-tasks") == "3"
        assert page.locator("svg.timeline a.tl-task").count() == 6
        page.click('svg.graph a[data-step="start"]')
        page.click("a.task")
        assert "<script>alert('log')</script>" in page.inner_text("pre.stdout")
        page.click('a.artifact:text-is("frame")')
        assert page.inner_text("div.preview-table p") == "First 20 of 200000 rows; 3 columns."
        _shoot(page, tmp_path, "shared-artifact")
        page.go_back()
        page.click('a.artifact:text-is("samples")')
        assert page.locator("svg.histogram rect").count() == 30
        page.goto(page.url.rsplit("/start/", 1)[0] + "/end")
        page.click("a.task")
        card = page.frame_locator("iframe.card").locator("h1")
        playwright_api.expect(card).to_have_text("Total: computed", timeout=30_000)
        page.close()
