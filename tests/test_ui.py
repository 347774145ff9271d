"""The UI's routes through Starlette's TestClient: pages, escaping, pagination, errors."""

from __future__ import annotations

import html
import io
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from asyncflow.client import get_datastore
from asyncflow.store import Datastore
from asyncflow.ui import LiveRuns, create_app
from asyncflow.ui._pages import TASKS_PER_PAGE, when
from asyncflow.ui._queries import RUNS_PER_PAGE

from .conftest import REPO
from .test_metadata_pages import Fetched
from .ui_store import HOSTILE_LOG, HOSTILE_NAME, FilledStore, fill_store


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> FilledStore:
    return fill_store(tmp_path_factory.mktemp("ui") / ".asyncflow")


@pytest.fixture
def client(filled: FilledStore) -> Iterator[TestClient]:
    with TestClient(create_app(filled.root)) as c:
        yield c


def test_flows_page_lists_every_flow_with_counts_and_latest(
    client: TestClient, filled: FilledStore
) -> None:
    page = client.get("/").text
    assert 'href="./flows/BrowsedFlow"' in page and 'href="./flows/BrokenFlow"' in page
    assert f'href="./flows/BrokenFlow/{filled.crashed}"' in page  # the latest run
    assert 'data-status="crashed"' in page
    rows = dict(re.findall(r'class="flow">(\w+)</a></td><td>(\d+)</td>', page))
    assert rows == {"BrokenFlow": "2", "BrowsedFlow": "2"}  # hostile + browsed
    hostile = get_datastore(filled.root).metadata.get_run("BrowsedFlow", filled.hostile)
    assert (
        hostile is not None
        and when(hostile.created_at) in page.split('class="flow">BrowsedFlow')[1]
    )


def test_runs_page_filters_by_status_tag_and_user(client: TestClient, filled: FilledStore) -> None:
    def run_ids(query: str) -> list[str]:
        text = client.get(f"/flows/BrokenFlow{query}").text
        return re.findall(r'href="\./flows/BrokenFlow/(\d+)" class="run"', text)

    assert client.get("/flows/BrokenFlow").text.count('class="run"') == 2
    assert run_ids("?status=crashed") == [str(filled.crashed)]
    assert run_ids("?status=failed") == [str(filled.broken)]
    assert run_ids("?tag=nightly") == [str(filled.crashed)]
    assert run_ids("?user=ann") == [str(filled.crashed)]
    assert run_ids("?until=2000-01-01T00:00") == []
    assert run_ids("?since=2000-01-01T00:00") == [str(filled.crashed), str(filled.broken)]
    assert run_ids("?since=2999-01-01T00:00") == []
    assert run_ids("?user=ann&status=failed") == []  # filters combine
    assert run_ids("?namespace=user:ann") == [str(filled.crashed)]  # as Metaflow's namespace()
    assert run_ids("?namespace=user:ann&tag=nightly") == [str(filled.crashed)]
    assert run_ids("?namespace=runtime:asyncflow") == [str(filled.broken)]  # a system tag
    assert run_ids("?namespace=project:nope") == []
    paged = client.get("/flows/BrokenFlow?namespace=user:ann&tag=nightly").text
    assert 'name="namespace" value="user:ann"' in paged  # the form keeps it
    crashed = client.get("/flows/BrokenFlow?status=crashed").text
    assert '<span class="badge crashed" data-status="crashed">crashed</span>' in crashed
    assert '<span class="tags">nightly</span>' in crashed


def test_run_page_shows_graph_timeline_params_and_failure(
    client: TestClient, filled: FilledStore
) -> None:
    page = client.get(f"/flows/BrowsedFlow/{filled.browsed}").text
    assert [s in page for s in ('data-step="start"', 'data-step="fan"', 'data-tasks="200"')]
    assert "\N{MULTIPLICATION SIGN}200" in page
    assert page.count('class="tl-task"') == TASKS_PER_PAGE  # 203 tasks: two pages
    assert "later tasks" in page and f"Tasks 1-{TASKS_PER_PAGE} of 203" in page
    second = client.get(f"/flows/BrowsedFlow/{filled.browsed}?tl=1").text
    assert second.count('class="tl-task"') == 3
    params = re.search(r'<table class="params">.*?</table>', page, re.S)
    assert params is not None and "<td>width</td><td><code>200</code></td>" in params.group(0)
    crashed = client.get(f"/flows/BrokenFlow/{filled.crashed}").text
    assert "<th>tags</th><td>nightly</td>" in crashed and "user:ann" in crashed
    assert 'data-status="crashed"' in crashed
    failed = client.get(f"/flows/BrokenFlow/{filled.broken}").text
    assert f"BrokenFlow/{filled.broken}/explode/" in failed
    assert "ValueError: the &lt;b&gt;answer&lt;/b&gt; is not 42" in failed
    assert 'data-step="explode" data-status="failed"' in failed.replace("\n", "")


def test_a_retried_task_shows_a_bar_per_attempt(client: TestClient, filled: FilledStore) -> None:
    page = client.get(f"/flows/BrokenFlow/{filled.broken}").text
    flaky = get_datastore(filled.root).metadata.list_tasks("BrokenFlow", filled.broken, "flaky")[0]
    row = re.search(rf'<g class="tl-row">(?:(?!</g>).)*data-label="flaky/{flaky.task_id}".*?</g>',
                    page, re.S)  # fmt: skip
    assert row is not None
    bars = re.findall(r'class="tl-attempt" data-attempt="(\d)" data-status="(\w+)"', row.group(0))
    assert bars == [("0", "failed"), ("1", "successful")]
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"[^>]*class="bar attempt', row.group(0))]
    assert xs[0] <= xs[1]  # the failed attempt first
    assert "#attempt-0" in row.group(0) and "attempt 0: failed" in row.group(0)
    task = client.get(f"/flows/BrokenFlow/{filled.broken}/flaky/{flaky.task_id}").text
    assert 'id="attempt-0"' in task and "— failed, started" in task


def test_a_malformed_recorded_graph_is_ignored_where_it_is_malformed() -> None:
    from asyncflow.ui._queries import StepSummary, planned_steps

    ran = [StepSummary("start")]
    assert planned_steps({"steps": "nonsense"}, ran) == ran
    assert planned_steps(None, ran) == ran
    hostile = {"steps": [{"name": 3}, "x", {"name": "a", "next": "zz"}, {"name": "a"},
                         {"name": "b", "next": ["a", "ghost"]}]}  # fmt: skip
    steps = planned_steps(hostile, ran)
    assert [(s.name, s.status, s.parents) for s in steps] == [
        ("a", "pending", {"b"}), ("b", "pending", set()), ("start", "pending", set())
    ]  # fmt: skip


def test_steps_that_have_not_run_are_drawn_greyed(client: TestClient, filled: FilledStore) -> None:
    failed = client.get(f"/flows/BrokenFlow/{filled.broken}").text
    nodes = re.findall(r'data-step="(\w+)" data-status="(\w+)" data-kind="(\w+)"', failed)
    assert nodes == [("start", "successful", "start"), ("flaky", "successful", "linear"),
                     ("explode", "failed", "linear"), ("end", "pending", "end")]  # fmt: skip
    end = re.search(r'<a class="step" data-step="end".*?</a>', failed, re.S)
    assert end is not None and "href" not in end.group(0) and "not run" in end.group(0)
    assert failed.count('class="edge"') == 3  # explode -> end drawn too
    assert 'class="tl-step" data-status="pending"' not in failed  # no bar for what never ran
    hostile = client.get(f"/flows/BrowsedFlow/{filled.hostile}").text  # recorded no graph
    assert re.findall(r'data-step="(\w+)"', hostile) == ["start"]


def test_task_page_shows_each_attempts_output_and_artifacts(
    client: TestClient, filled: FilledStore
) -> None:
    broken = get_datastore(filled.root).metadata.list_tasks("BrokenFlow", filled.broken, "flaky")
    page = client.get(f"/flows/BrokenFlow/{filled.broken}/flaky/{broken[0].task_id}").text
    outputs = re.findall(r'data-attempt="(\d)".*?<pre class="log stdout">(.*?)</pre>', page, re.S)
    assert outputs == [("0", "attempt 0\n"), ("1", "attempt 1\n")]  # each attempt its own
    assert "RuntimeError: first attempt fails" in page
    start = client.get(f"/flows/BrowsedFlow/{filled.browsed}/start/1").text
    rows = {
        m[0]: m[1:]
        for m in re.findall(
            r'class="artifact">(\w+)</a></td><td><code>(.*?)</code></td><td>(.*?)</td>'
            r"<td>([\d,]+)</td><td><code>(.*?)</code></td>",
            start.replace('" class="artifact"', ' class="artifact"'),
        )
    }
    store = get_datastore(filled.root)
    refs = {a.name: a for a in store.metadata.list_artifacts("BrowsedFlow", filled.browsed, 1)}
    assert sorted(rows) == sorted(n for n in refs if not n.startswith("_"))
    for name, (kind, encoding, size, metadata) in rows.items():
        ref = refs[name]
        assert (kind, encoding, size) == (ref.type, ref.encoding, f"{ref.size:,}")
        assert json.loads(html.unescape(metadata)) == ref.metadata
    assert rows["frame"][1] == "arrow-ipc/1" and rows["samples"][1] == "numpy/1"
    assert rows["pairs"][1] == "cloudpickle/1" and rows["report"][1] == "bytes/1"


def test_previews_read_the_first_rows_stats_and_simple_values(
    client: TestClient, filled: FilledStore
) -> None:
    base = f"/flows/BrowsedFlow/{filled.browsed}/start/1"
    frame = client.get(f"{base}/frame").text
    assert "First 20 of 200000 rows; 3 columns." in frame and frame.count("<tr><td>") == 20
    people = client.get(f"{base}/people").text  # a pandas frame: Arrow too, index included
    assert "First 20 of 1000 rows; 3 columns." in people
    assert "<tr><th>key</th><th>age</th><th>name</th></tr>" in people  # the index first
    assert "<tr><td>id0</td><td>0</td><td>p0</td></tr>" in people
    assert "<tr><td>id19</td><td>19</td><td>p19</td></tr>" in people and "p20<" not in people
    array = client.get(f"{base}/samples").text
    assert "(50000,)" in array and 'class="histogram"' in array and "mean" in array
    mean = float(array.split("<th>mean</th><td>")[1].split("<")[0])
    assert mean == pytest.approx(10.0, abs=0.1)
    settings = client.get(f"{base}/settings").text
    assert "&quot;ratios&quot;: [\n    0.5," in settings
    pairs = client.get(f"{base}/pairs").text
    assert "Not previewed: decoding cloudpickle/1 can run code" in pairs


def test_raw_values_show_their_first_bytes_and_download_whole(
    client: TestClient, filled: FilledStore
) -> None:
    base = f"/flows/BrowsedFlow/{filled.browsed}/start/1"
    report = client.get(f"{base}/report").text
    assert "First 2,048 of 1,600,000 bytes, as text." in report
    assert "line &lt;i&gt;one&lt;/i&gt;\nline" in report and "<i>one" not in report
    assert report.count("line &lt;i&gt;") == 2048 // len("line <i>one</i>\n")  # 128 lines
    blob = client.get(f"{base}/blob").text
    assert "First 2,048 of 2,097,152 bytes, in hex." in blob
    assert "00000010  10 11 12 13" in blob and blob.count("\n000") == 2048 // 16 - 1
    text = client.get(f"{base}/report?format=txt")
    assert (
        text.text == "line <i>one</i>\n" * 100_000
        and "attachment" in text.headers["content-disposition"]
    )
    assert client.get(f"{base}/blob?format=bin").content == bytes(range(256)) * 8192
    assert client.get(f"{base}/blob?format=txt").status_code == 400
    chunks = client.get(f"{base}/chunks").text
    assert "A tuple of 2 bytes values, 1,400,016 bytes in all." in chunks
    assert 'class="download"' not in chunks


def test_pickle_is_previewed_only_when_the_app_and_the_process_allow_it(
    filled: FilledStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/flows/BrowsedFlow/{filled.browsed}/start/1/pairs"
    with TestClient(create_app(filled.root, allow_pickle=True)) as allowing:
        assert "(1, 2)" in allowing.get(path).text
        monkeypatch.setenv("ASYNCFLOW_ALLOW_PICKLE", "0")
        assert "Not previewed" in allowing.get(path).text


def test_downloads_as_arrow_npy_and_json(client: TestClient, filled: FilledStore) -> None:
    base = f"/flows/BrowsedFlow/{filled.browsed}/start/1"
    table = pa.ipc.open_file(pa.py_buffer(client.get(f"{base}/frame?format=arrow").content))
    assert table.read_all().num_rows == 200_000
    array = np.load(io.BytesIO(client.get(f"{base}/samples?format=npy").content))
    assert array.shape == (50_000,) and array[0] == np.random.default_rng(0).normal(10, 2, 1)[0]
    settings = client.get(f"{base}/settings?format=json")
    assert json.loads(settings.text)["name"] == "browsed"
    assert "attachment" in settings.headers["content-disposition"]
    refused = client.get(f"{base}/pairs?format=json")
    assert refused.status_code == 400 and "cannot be downloaded as json" in refused.text


def test_everything_from_the_store_is_escaped(client: TestClient, filled: FilledStore) -> None:
    pages = [
        client.get(f"/flows/BrowsedFlow/{filled.hostile}").text,
        client.get(f"/flows/BrowsedFlow/{filled.hostile}/start/1").text,
        client.get("/flows/BrowsedFlow").text,
    ]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>mallory" not in page
    assert "&lt;img src=x onerror=alert(&#x27;log&#x27;)&gt;" in pages[1]  # the log line
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in pages[1]  # the artifact
    artifact = client.get(f"/flows/BrowsedFlow/{filled.hostile}/start/1/{HOSTILE_NAME}")
    assert artifact.status_code == 200 and "<script>alert" not in artifact.text
    assert "&quot;hello&quot;" in artifact.text
    log_page = client.get(f"/flows/BrowsedFlow/{filled.browsed}/start/1").text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(&#x27;log&#x27;)" in log_page
    assert HOSTILE_LOG not in log_page
    assert "script-src 'self'" in artifact.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/flows/Nope", "flow &#x27;Nope&#x27; does not exist"),
        ("/flows/BrowsedFlow/999", "run &#x27;BrowsedFlow/999&#x27; does not exist"),
        ("/flows/BrowsedFlow/x", "run &#x27;BrowsedFlow/x&#x27; does not exist"),
        ("/flows/BrowsedFlow/1/nostep", "step &#x27;BrowsedFlow/1/nostep&#x27; does not exist"),
        ("/flows/BrowsedFlow/1/start/77", "task &#x27;BrowsedFlow/1/start/77&#x27; does not"),
        ("/flows/BrowsedFlow/1/start/1/nope", "artifact &#x27;BrowsedFlow/1/start/1/nope&#x27;"),
    ],
)
def test_unknown_things_get_a_404_page_that_names_them(
    client: TestClient, path: str, message: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text and message in response.text


def test_bad_query_arguments_are_a_400_that_says_why(client: TestClient) -> None:
    response = client.get("/flows/BrowsedFlow?page=abc")
    assert response.status_code == 400 and "page must be a page number" in response.text
    assert "not a time" in client.get("/flows/BrowsedFlow?since=yesterday").text


def test_an_empty_datastore_says_no_flow_has_run(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "none")) as c:
        assert "No flow has run in this datastore yet." in c.get("/").text


def test_pages_stay_paginated_with_10000_runs_and_10000_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / ".asyncflow"
    store = get_datastore_for(root)
    from asyncflow.store import TaskRecord

    runs = [store.metadata.create_run("Many", "u", {}, [], ["user:u"]) for _ in range(10_000)]
    big = runs[-1].run_id
    store.metadata.commit_task(TaskRecord("Many", big, "start", 1, "successful", 0, 1.0, 2.0), [])
    for i in range(2, 10_002):
        frame = [{"step": "start", "var": "x", "index": i - 2, "num_splits": 10_000}]
        store.metadata.commit_task(
            TaskRecord("Many", big, "fan", i, "successful", 0, 2.0, 3.0, frame, [1]), []
        )
    fetched = Fetched(store.metadata, monkeypatch)

    def rows_read(path: str) -> tuple[str, int]:
        fetched.queries.clear()
        return c.get(path).text, fetched.rows

    with TestClient(create_app(root)) as c:
        flows, rows = rows_read("/")
        assert "10000" in flows and rows < 10
        listing, rows = rows_read("/flows/Many")
        assert listing.count('class="run"') == RUNS_PER_PAGE and 'rel="next"' in listing
        assert rows <= RUNS_PER_PAGE + 10
        last, rows = rows_read(f"/flows/Many?page={10_000 // RUNS_PER_PAGE - 1}")
        assert last.count('class="run"') == RUNS_PER_PAGE and 'rel="next"' not in last
        assert rows <= RUNS_PER_PAGE + 10  # a deep page reads one page, not every run before it
        run, rows = rows_read(f"/flows/Many/{big}?tl=20")
        assert run.count('class="tl-task"') == TASKS_PER_PAGE and 'data-tasks="10000"' in run
        assert f"Tasks {20 * TASKS_PER_PAGE + 1}-{21 * TASKS_PER_PAGE} of 10001" in run
        assert rows <= 2 * TASKS_PER_PAGE + 20  # a page of tasks (and of their attempts)
        step, rows = rows_read(f"/flows/Many/{big}/fan?page=30")
        assert step.count('class="task"') == TASKS_PER_PAGE and rows <= TASKS_PER_PAGE + 10


def get_datastore_for(root: Path) -> Datastore:
    root.mkdir(parents=True)
    Datastore(root).close()
    return get_datastore(root)


def test_live_runs_follow_the_engines_events(filled: FilledStore) -> None:
    from asyncflow.events import RunFinished, TaskStarted

    live = LiveRuns()
    pathspec = f"BrowsedFlow/{filled.browsed}"
    live(TaskStarted(f"{pathspec}/end/999"))
    assert [t.step for t in live.running(pathspec)] == ["end"]
    with TestClient(create_app(filled.root, live=live)) as c:
        page = c.get(f"/flows/BrowsedFlow/{filled.browsed}?part=live").text
        assert "(+1 running)" in page and 'data-label="end/999"' in page
        assert 'class="tl-step" data-status="running" data-label="end"' in page
        assert "end: 1 task(s) (+1 running)" in page
        live(RunFinished(pathspec, "successful"))
        events = c.get(f"/flows/BrowsedFlow/{filled.browsed}/events").text
        assert "event: change" in events and events.endswith("event: done\ndata: {}\n\n")
    assert live.running(pathspec) == []


def test_cards_render_in_a_sandboxed_iframe(client: TestClient, filled: FilledStore) -> None:
    end = get_datastore(filled.root).metadata.list_tasks("BrowsedFlow", filled.browsed, "end")[0]
    page = client.get(f"/flows/BrowsedFlow/{filled.browsed}/end/{end.task_id}").text
    frame = re.search(r"<iframe [^>]*>", page)
    assert frame is not None and 'sandbox="allow-scripts"' in frame.group(0)
    assert "allow-same-origin" not in frame.group(0)
    card = client.get(f"/flows/BrowsedFlow/{filled.browsed}/end/{end.task_id}/cards/0")
    assert "Total: computed" in card.text
    assert card.headers["content-security-policy"].startswith("sandbox allow-scripts")
    missing = client.get(f"/flows/BrowsedFlow/{filled.browsed}/end/{end.task_id}/cards/5")
    assert missing.status_code == 404


@pytest.mark.slow
def test_the_built_wheel_carries_the_uis_assets(tmp_path: Path) -> None:
    """The assets are served from the installed package: a wheel without them would
    serve pages without their stylesheet and script (and StaticFiles fails at start)."""
    source = tmp_path / "src"
    for part in ("asyncflow", "serializers"):
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / part, source / part)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("asyncflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = {p.relative_to(REPO).as_posix() for p in (REPO / "asyncflow/ui/static").iterdir()}
    assert assets and assets <= names, f"missing from the wheel: {sorted(assets - names)}"


def _this_machines_address() -> str | None:
    """An address of this machine other than loopback (None without a network)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # UDP: nothing is sent
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


def _reachable(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, port)) == 0


@pytest.mark.parametrize("host", [None, "0.0.0.0"])
def test_ui_binds_this_machine_unless_host_says_and_then_warns(
    tmp_path: Path, host: str | None
) -> None:
    port = _free_port()
    args = ["ui", "--root", str(tmp_path), "--port", str(port)]
    args += ["--host", host] if host else []
    cmd = [sys.executable, "-c", "from asyncflow.console import main; main()", *args]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE)
    try:
        said = _stderr_until(proc, "serving http://")
        while not _reachable("127.0.0.1", port):
            assert proc.poll() is None, said
            time.sleep(0.05)
        outside = _this_machines_address()
        if host is None:
            assert f"serving http://127.0.0.1:{port}/" in said and "warning" not in said
            assert outside is None or not _reachable(outside, port)
        else:
            assert said.startswith(
                "warning: the asyncflow UI has no authentication; on 0.0.0.0 anyone who can "
                f"reach port {port} can read every run, log and artifact of this datastore\n"
            )
            assert outside is None or _reachable(outside, port)
    finally:
        proc.terminate()
        proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stderr_until(proc: subprocess.Popen[bytes], text: str) -> str:
    """What the process wrote on stderr up to ``text`` (read from the pipe itself: a
    buffered reader may hold lines that select() no longer sees)."""
    assert proc.stderr is not None
    said = b""
    deadline = time.monotonic() + 60
    # a selector, not select(): a long test session may hold descriptors past 1024
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stderr, selectors.EVENT_READ)
        while text.encode() not in said:
            assert time.monotonic() < deadline, f"asyncflow ui said only: {said!r}"
            if selector.select(timeout=1):
                chunk = os.read(proc.stderr.fileno(), 4096)
                assert chunk, f"asyncflow ui exited: {said!r}"
                said += chunk
    return said.decode()


@pytest.mark.parametrize("page", ["flows", "runs", "run", "task", "artifact"])
def test_readme_and_docs_show_a_screenshot_of_each_main_page(page: str) -> None:
    image = REPO / "docs" / "images" / f"ui-{page}.png"
    assert image.read_bytes().startswith(b"\x89PNG"), f"{image} is not a PNG"
    assert f"](docs/images/ui-{page}.png)" in (REPO / "README.md").read_text()
    how_to = (REPO / "docs" / "how-to" / "browse-runs.md").read_text()
    assert f"](../images/ui-{page}.png)" in how_to


@pytest.mark.parametrize(
    "pandas", [b"not json", b"[1]", b'{"index_columns": 3}', b'{"index_columns": ["b", 7, "zz"]}']
)
def test_a_frames_hostile_pandas_metadata_only_loses_the_index_order(pandas: bytes) -> None:
    from asyncflow.ui._previews import _index_first

    schema = pa.schema([("a", pa.int64()), ("b", pa.int64())], metadata={b"pandas": pandas})
    expected = ["b", "a"] if b'"b"' in pandas else ["a", "b"]
    assert _index_first(schema) == expected


def test_hostile_flow_and_step_names_are_escaped_and_their_links_work(tmp_path: Path) -> None:
    """Names a hostile writer chose, everywhere they appear: text, SVG and links (a
    name holding a '/' cannot be routed to: its pages are 404s)."""
    from asyncflow.store import TaskRecord

    store = get_datastore_for(tmp_path / ".asyncflow")
    flow, step = "Evil\"><img src=x onerror=alert(1)>'", "<svg onload=alert(2)>&amp;"
    graph = {"steps": [{"name": step, "next": ["</text><script>alert(3)</script>"]},
                       {"name": "</text><script>alert(3)</script>", "kind": "<b>"}]}  # fmt: skip
    run = store.metadata.create_run(flow, "u", {}, [], [], graph=graph).run_id
    store.metadata.commit_task(TaskRecord(flow, run, step, 1, "successful", 0, 1.0, 2.0), [])
    with TestClient(create_app(tmp_path / ".asyncflow")) as c:
        flows = c.get("/").text
        runs_link = re.search(r'<a href="([^"]+)" class="flow">', flows)
        assert runs_link is not None
        runs = c.get("/" + html.unescape(runs_link.group(1))[2:])
        run_link = re.search(r'<a href="([^"]+)" class="run">', runs.text)
        assert runs.status_code == 200 and run_link is not None
        run_page = c.get("/" + html.unescape(run_link.group(1))[2:])
        step_link = re.search(r'<a href="([^"]+)" class="step"', run_page.text)
        assert run_page.status_code == 200 and step_link is not None
        step_page = c.get("/" + html.unescape(step_link.group(1))[2:])
        task_link = re.search(r'<a href="([^"]+)" class="task">', step_page.text)
        assert step_page.status_code == 200 and task_link is not None
        task_page = c.get("/" + html.unescape(task_link.group(1))[2:])
        assert task_page.status_code == 200
        for page in (flows, runs.text, run_page.text, step_page.text, task_page.text):
            assert "<script>" not in page.replace('<script src="static/ui.js" defer></script>', "")
            assert "<svg onload" not in page and "<img src=x" not in page
        assert "&lt;svg onload=alert(2)&gt;&amp;amp;" in run_page.text  # the name as text
        assert "Evil&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&#x27;" in task_page.text
        assert run_page.text.count('class="step"') == 2


def test_pages_load_nothing_from_elsewhere(client: TestClient, filled: FilledStore) -> None:
    """Every asset is the package's own (no CDN: the UI runs without internet)."""
    base = f"/flows/BrowsedFlow/{filled.browsed}"
    for path in ("/", "/flows/BrowsedFlow", base, f"{base}/start/1", f"{base}/start/1/samples"):
        page = client.get(path).text
        links = re.findall(r'\b(?:src|href|action)="([^"]*)"', page)
        assert links and all(not re.match(r"[a-z]+:|//", link) for link in links), path
    for asset in ("static/ui.css", "static/ui.js"):
        served = client.get(f"/{asset}")
        assert served.status_code == 200 and not re.search(r"https?://|@import", served.text)
