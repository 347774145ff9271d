"""The serializer plugins' entry-point reader gives what importlib.metadata gives."""

from __future__ import annotations

import importlib.metadata
import sys
import zipfile
from pathlib import Path

import pytest

from serializers._entry_points import EntryPoint, _covered, entry_points

GROUP = "asyncflow.serializers"


def _triples(points: object) -> list[tuple[str, str, str]]:
    return sorted((p.name, p.value, p.group) for p in points)  # type: ignore[attr-defined]


def _dist(directory: Path, name: str, text: str) -> None:
    info = directory / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(text)


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    text = f"# a comment\n\n[{GROUP}]\n  fast = fastmod:Fast [extra]\nslow=slowmod:pkg.Slow\n"
    _dist(first, "Some_Plugin", text + "[console_scripts]\ntool = t:main\n")
    _dist(second, "some.plugin", f"[{GROUP}]\nshadowed = never:Used\n")  # same name: first wins
    _dist(second, "other", f"[{GROUP}]\nplain = json\n")
    (second / "broken-0.1.egg-info").write_text("an egg-info that is a file")
    monkeypatch.setattr(sys, "path", [str(first), str(second), str(tmp_path / "missing")])
    assert _covered()  # the reader answers, not importlib.metadata
    return first, second


def test_the_environment_s_entry_points_are_importlib_metadata_s() -> None:
    assert _covered()
    for group in (GROUP, "console_scripts", "pytest11", "asyncflow.cards"):
        theirs = importlib.metadata.entry_points(group=group)
        assert _triples(entry_points(group)) == _triples(theirs)


def test_first_distribution_of_a_name_wins_and_the_file_is_read_as_importlib_reads_it(
    on_path: tuple[Path, Path],
) -> None:
    ours = entry_points(GROUP)
    assert _triples(ours) == _triples(importlib.metadata.entry_points(group=GROUP))
    assert _triples(ours) == [
        ("fast", "fastmod:Fast [extra]", GROUP), ("plain", "json", GROUP),
        ("slow", "slowmod:pkg.Slow", GROUP),
    ]  # fmt: skip


def test_load_imports_the_module_and_follows_the_attributes() -> None:
    assert EntryPoint("a", "os.path:join", GROUP).load() is __import__("os.path").path.join
    assert EntryPoint("b", "json", GROUP).load() is __import__("json")
    assert EntryPoint("c", "json : decoder.JSONDecoder [x]", GROUP).load().__name__ == "JSONDecoder"
    with pytest.raises(ValueError, match="entry point 'd' has a malformed value 'not a value'"):
        EntryPoint("d", "not a value", GROUP).load()


def test_a_zip_on_the_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-2.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\n")
        z.writestr("zipped-2.0.dist-info/entry_points.txt", f"[{GROUP}]\nz = zmod:Z\n")
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert not _covered()
    assert _triples(entry_points(GROUP)) == [("z", "zmod:Z", GROUP)]
