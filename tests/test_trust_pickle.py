"""The pickle switch: a planted pickle never runs when pickle is refused, by any reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncflow import allow_pickle
from asyncflow.client import Task
from asyncflow.store import ArtifactRef, Datastore
from serializers import PickleNotAllowedError

from .conftest import REPO, run_python

FAN = str(REPO / "tests" / "flows" / "fan_script.py")


class Planted:
    """Unpickles by opening (so creating) the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def plant(root: Path, marker: Path) -> None:
    """Add to FanFlow/1/start/1 a pickled ``evil`` and a ``gone`` whose plugin is missing."""
    store = Datastore(root)
    task = store.metadata.get_task("FanFlow", 1, "start", 1)
    assert task is not None
    evil = store.persist("evil", Planted(marker), step="start")
    assert evil.encoding == "cloudpickle/1"
    gone = ArtifactRef("gone", evil.key, "vanished-plugin/1", evil.size, "x.Y", {}, True, evil.data)
    store.commit_task(task, [evil, gone])
    store.close()


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("planted") / "store"
    run_python(FAN, "run", root=root, check=True)
    marker = root.parent / "pwned"
    plant(root, marker)
    return root, marker


@pytest.fixture
def no_pickle() -> Iterator[None]:
    allow_pickle(False)
    yield
    allow_pickle(None)


def test_show_and_dump_with_no_pickle_print_type_and_size_and_go_on(
    planted: tuple[Path, Path],
) -> None:
    root, marker = planted
    show = run_python("-m", "asyncflow", "show", "FanFlow/1/start/1/evil", "--no-pickle", root=root)
    assert show.returncode == 0, show.stderr
    assert "    type:     tests.test_trust_pickle.Planted\n" in show.stdout
    assert "    encoding: cloudpickle/1\n" in show.stdout
    assert "value:    <not loaded: refusing to deserialize artifact" in show.stdout
    dump = run_python(FAN, "dump", "--no-pickle", "1/start/1", root=root)
    assert dump.returncode == 0, dump.stderr
    lines = dump.stdout.splitlines()
    assert lines[0] == "Artifacts of FanFlow/1/start/1:"
    assert lines[1].startswith("    big: builtins.bytes (msgpack/1, 200005 bytes) = b'xxx")
    assert (
        lines[2].startswith("    evil: tests.test_trust_pickle.Planted (cloudpickle/1, ")
        and "= <not loaded: refusing to deserialize artifact 'FanFlow/1/start/1/evil'" in lines[2]
    )
    assert lines[3].startswith("    gone: x.Y (vanished-plugin/1, ")
    assert "no serializer for encoding 'vanished-plugin/1' is registered" in lines[3]
    assert lines[4].startswith("    items: builtins.list (msgpack/1, 7 bytes) = ['a'")
    assert not marker.exists()


def test_the_environment_switch_is_honoured_by_every_command(
    planted: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, marker = planted
    monkeypatch.setenv("ASYNCFLOW_ALLOW_PICKLE", "0")
    dump = run_python(FAN, "dump", "1/start/1", "--include", "evil", root=root)
    show = run_python("-m", "asyncflow", "show", "FanFlow/1/start/1/evil", root=root)
    code = "from asyncflow import Flow; print(Flow('FanFlow')['1']['start'].task.data.evil)"
    client = run_python("-c", code, root=root)
    assert "<not loaded: refusing to deserialize" in dump.stdout, dump.stderr
    assert "<not loaded: refusing to deserialize" in show.stdout, show.stderr
    assert client.returncode == 1
    assert "PickleNotAllowedError: refusing to deserialize artifact" in client.stderr
    assert "ASYNCFLOW_ALLOW_PICKLE=0" in client.stderr
    assert not marker.exists()


def test_listing_never_unpickles(planted: tuple[Path, Path]) -> None:
    root, marker = planted
    show = run_python("-m", "asyncflow", "show", "FanFlow/1/start/1", root=root)
    assert show.returncode == 0, show.stderr
    assert "    evil: tests.test_trust_pickle.Planted (cloudpickle/1, " in show.stdout
    assert not marker.exists()


def test_a_value_whose_plugin_is_gone_is_one_clear_line_and_listing_goes_on(
    planted: tuple[Path, Path],
) -> None:
    root, _ = planted
    show = run_python("-m", "asyncflow", "show", "FanFlow/1/start/1/gone", root=root)
    listing = run_python("-m", "asyncflow", "show", "FanFlow/1/start/1", root=root)
    dump = run_python(FAN, "dump", "1/start/1", "--include", "gone,items", root=root)
    for proc in (show, listing, dump):
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
    assert show.stdout.splitlines()[-1] == (
        "    value:    <not loaded: cannot deserialize artifact 'FanFlow/1/start/1/gone': "
        "no serializer for encoding 'vanished-plugin/1' is registered; install the plugin "
        "that provides it (plugins register through the entry-point group "
        "'asyncflow.serializers') or call registry.register(...)>"
    )
    assert "    gone: x.Y (vanished-plugin/1, " in listing.stdout
    assert "    items: builtins.list (msgpack/1, 7 bytes)\n" in listing.stdout
    lines = dump.stdout.splitlines()
    assert "no serializer for encoding 'vanished-plugin/1' is registered" in lines[1]
    assert lines[2].startswith("    items: builtins.list (msgpack/1, 7 bytes) = ['a'")


def test_allow_pickle_false_refuses_in_the_client(
    planted: tuple[Path, Path], no_pickle: None
) -> None:
    root, marker = planted
    task = Task("FanFlow/1/start/1", root=root)
    with pytest.raises(PickleNotAllowedError, match="ASYNCFLOW_ALLOW_PICKLE=0") as info:
        task.data.evil  # noqa: B018
    assert info.value.artifact == "FanFlow/1/start/1/evil"
    assert task.data.items == ["a", "b", "c"]
    assert not marker.exists()


def test_pickle_is_allowed_by_default_and_after_reset(planted: tuple[Path, Path]) -> None:
    root, marker = planted
    assert allow_pickle(False) is False
    assert allow_pickle(None) is True
    Task("FanFlow/1/start/1", root=root).data.evil.close()
    assert marker.exists()
    marker.unlink()
