"""The docs site builds in strict mode, and every fenced example in it (and in the READMEs) runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.docs_examples import DocsFormatError, blocks_of
from tests.test_service import Server

PAGES = sorted([*REPO.glob("docs/**/*.md"), REPO / "README.md", *REPO.glob("examples/*/README.md")])


@pytest.fixture
def example_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """For examples/service/README.md: ``$SERVICE``, the example service on a store of its own."""
    if shutil.which("curl") is None:
        pytest.skip("needs curl")
    server = Server(tmp_path_factory.mktemp("service") / ".asyncflow")
    try:
        yield {"SERVICE": server.url.removeprefix("http://")}
    finally:
        server.stop()


def _mkdocs(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_page_examples_run(page: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = {
        **os.environ,
        "ASYNCFLOW_HOME": str(tmp_path / ".asyncflow"),
        "PYTHONPATH": str(REPO),
        "ASYNCFLOW_DISPLAY": "plain",
    }
    skipped: dict[str, str] = {}
    for name in sorted({need for block in blocks_of(page) for need in block.needs}):
        try:
            provided: Mapping[str, str] | None = request.getfixturevalue(name)
        except pytest.skip.Exception as exc:
            skipped[name] = str(exc)
            continue
        env.update(provided or {})
    options = [arg for name in skipped for arg in ("--skip-needs", name)]
    proc = subprocess.run(
        [sys.executable, "-m", "tests.docs_examples", str(page), *options], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-6000:]
    if skipped:
        pytest.skip("; ".join(f"blocks needing {name}: {why}" for name, why in skipped.items()))


def test_site_builds_strict(tmp_path: Path) -> None:
    proc = _mkdocs(
        "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(tmp_path), cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text()
    assert "--max-num-splits" in cli and "--dry-run" in cli  # generated from the click commands
    api = (tmp_path / "reference" / "api" / "index.html").read_text()
    assert "merge_artifacts" in api  # generated from the docstrings
    assert "fonts.googleapis.com" not in (tmp_path / "index.html").read_text()


@pytest.mark.parametrize(
    "broken, named",
    [("[the store](nowhere.md)", "nowhere.md"), ("[Run][asyncflow.client.Nowhere]", "Nowhere")],
    ids=["link", "api-reference"],
)
def test_broken_reference_fails_the_build(tmp_path: Path, broken: str, named: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(f"# A page\n\nSee {broken}.\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(f"INHERIT: {REPO / 'mkdocs.yml'}\ndocs_dir: {docs}\nnav:\n  - index.md\n")
    proc = _mkdocs("build", "--strict", "-f", str(config), "-d", str(tmp_path / "site"), cwd=REPO)
    assert proc.returncode != 0
    assert named in proc.stderr


def _source_variables() -> set[str]:
    found: set[str] = set()
    for path in [*REPO.glob("asyncflow/**/*.py"), *REPO.glob("serializers/**/*.py")]:
        found.update(re.findall(r"\bASYNCFLOW_[A-Z][A-Z0-9_]*\b", path.read_text()))
    return found


def test_configuration_page_lists_every_variable() -> None:
    table = (REPO / "docs" / "reference" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `(ASYNCFLOW_[A-Z0-9_]+)`", table, re.MULTILINE))
    assert _source_variables() - documented == set(), "undocumented variables"
    assert documented - _source_variables() == set(), "documented but never read"


def test_getting_started_lists_every_extra() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    page = (REPO / "docs" / "getting-started.md").read_text()
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", page, re.MULTILINE)
    assert sorted(listed) == sorted(extras)


def test_blocks_of_reads_titles_and_directives(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        textwrap.dedent(
            """\
            ```python title="flow.py"
            x = 1
            ```

            <!-- run: skip a fragment -->
            ```python
                @step
            ```

            - a list item:

                <!-- run: needs postgres s3 -->
                ```bash
                asyncflow runs
                ```
            """
        )
    )
    file, fragment, shell = blocks_of(page)
    assert (file.title, file.runs, file.line) == ("flow.py", False, 2)
    assert (fragment.directive, fragment.runs) == ("skip", False)
    assert (shell.lang, shell.needs, shell.code, shell.runs) == (
        "bash", ["postgres", "s3"], "asyncflow runs\n", True,
    )  # fmt: skip


@pytest.mark.parametrize(
    "text, message",
    [
        ("<!-- run: skipp -->\n```python\nx\n```\n", "unknown run directive 'skipp'"),
        ("<!-- run: needs -->\n```python\nx\n```\n", "names no fixture"),
        ("```python\nx\n", "never closed"),
    ],
)
def test_bad_page_format_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(text)
    with pytest.raises(DocsFormatError, match=message):
        blocks_of(page)


def test_a_failing_block_fails_its_page_and_names_its_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nvalue = 1\n```\n\n<!-- run: fails -->\n```python\n1 / 0\n```\n\n"
        "```bash\ntest \"$(python -c 'print(2)')\" = 2\n```\n\n```python\nassert value == 2\n```\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tests.docs_examples", str(page)], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"{page}:15: the python block failed" in proc.stderr
    assert "AssertionError" in proc.stderr
