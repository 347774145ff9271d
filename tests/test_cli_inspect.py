"""dump, logs and tag on a flow script, and the asyncflow console script, as real processes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import click
import pytest

from asyncflow.client import DataArtifact, Metaflow

from .conftest import REPO, run_python

FAN = str(REPO / "tests" / "flows" / "fan_script.py")


def _console(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "asyncflow", *args, root=root)


@pytest.fixture(scope="module")
def fan_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store with one FanFlow run, shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("fan") / "store"
    run_python(FAN, "run", root=root, check=True)
    return root


def test_dump_prints_a_tasks_artifacts(fan_root: Path) -> None:
    proc = run_python(FAN, "dump", "1/start/1", "--max-value-size", "12", root=fan_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "Artifacts of FanFlow/1/start/1:\n"
        "    big: builtins.bytes (msgpack/1, 200005 bytes) = b'xx...xxxx'\n"
        "    items: builtins.list (msgpack/1, 7 bytes) = ['a', 'b'...\n"
    )
    proc = run_python(FAN, "dump", "FanFlow/1/each", "--include", "item", root=fan_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Artifacts of FanFlow/1/each/") == 3
    assert sorted(re.findall(r"= '(\w)'", proc.stdout)) == ["A", "B", "C"]


def test_logs_print_a_tasks_output(fan_root: Path) -> None:
    proc = run_python(FAN, "logs", "1/start/1", root=fan_root)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "starting\n", "")
    proc = run_python(FAN, "logs", "1/start", "--stderr", root=fan_root)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_unknown_pathspecs_are_named(fan_root: Path) -> None:
    proc = run_python(FAN, "dump", "1/nope", root=fan_root)
    assert proc.returncode == 1
    assert proc.stderr == "Not found:\n    step 'FanFlow/1/nope' does not exist\n"
    proc = _console("show", "FanFlow/9/start/1", root=fan_root)
    assert proc.returncode == 1
    assert proc.stderr == "Not found:\n    run 'FanFlow/9' does not exist\n"
    proc = run_python(FAN, "dump", "9/start", root=fan_root)  # the run is missing, not the step
    assert (proc.returncode, proc.stderr) == (1, "Not found:\n    run 'FanFlow/9' does not exist\n")
    proc = _console("runs", "NoSuchFlow", root=fan_root)
    assert (proc.returncode, proc.stdout) == (1, "")  # no table header above the error
    assert proc.stderr == "Not found:\n    flow 'NoSuchFlow' does not exist\n"


def test_run_with_a_datastore_root_that_is_a_file_says_so(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    proc = run_python(FAN, "--datastore-root", str(not_a_dir), "run", root=tmp_path / "store")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Datastore error:\n    cannot open the datastore at {not_a_dir}: "
        f"[Errno 20] Not a directory: '{not_a_dir}/blobs'\n"
    )


@pytest.mark.parametrize("option", ["--max-workers", "--max-num-splits"])
def test_run_refuses_a_limit_below_one(tmp_path: Path, option: str) -> None:
    proc = run_python(FAN, "run", option, "0", root=tmp_path / "store")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '{option}': 0 is not in the range x>=1."
    )


def test_tag_add_remove_list(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run_python(FAN, "run", root=root, check=True)
    proc = run_python(FAN, "tag", "add", "--run-id", "1", "nightly", "v1", root=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["Run FanFlow/1", "    user tags:   nightly, v1"]
    proc = run_python(FAN, "tag", "remove", "--run-id", "1", "v1", root=root)
    assert proc.stdout.splitlines()[1] == "    user tags:   nightly"
    proc = run_python(FAN, "tag", "replace", "--run-id", "1", "nightly", "weekly", root=root)
    assert proc.stdout.splitlines()[1] == "    user tags:   weekly"
    run_python(FAN, "tag", "replace", "--run-id", "1", "weekly", "nightly", root=root, check=True)
    proc = run_python(
        FAN, "tag", "replace", "--run-id", "1", "--remove", "nightly", "--remove", "x",
        "--add", "nightly", "--add", "v2", root=root,
    )  # fmt: skip
    assert proc.stdout.splitlines()[1] == "    user tags:   nightly, v2"
    proc = run_python(FAN, "tag", "replace", "--run-id", "1", "--remove", "v2", root=root)
    assert proc.stdout.splitlines()[1] == "    user tags:   nightly"
    proc = run_python(FAN, "tag", "replace", "--run-id", "1", "lonely", root=root)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "Error: give both OLD and NEW, or neither (then --remove/--add)"
    )
    proc = run_python(FAN, "tag", "remove", "--run-id", "1", "runtime:asyncflow", root=root)
    assert proc.returncode == 1
    assert proc.stderr == (
        "Invalid tag operation:\n"
        "    cannot use tag 'runtime:asyncflow' on run 'FanFlow/1': it is a system tag\n"
    )
    proc = run_python(FAN, "tag", "list", root=root)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["Run FanFlow/1", "    user tags:   nightly"]
    assert lines[2].startswith("    system tags: ") and "runtime:asyncflow" in lines[2]
    runs = _console("runs", "FanFlow", "--tag", "nightly", root=root)
    assert [line.split()[:2] for line in runs.stdout.splitlines()[1:]] == [["1", "successful"]]
    assert runs.stdout.splitlines()[1].endswith(" nightly")
    assert _console("runs", "FanFlow", "--tag", "nope", root=root).stdout.count("\n") == 1


def test_console_show_describes_each_level(fan_root: Path) -> None:
    run = _console("show", "FanFlow/1", root=fan_root)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:3] == [
        "Run FanFlow/1",
        "    status:      successful",
        run.stdout.splitlines()[2],
    ]
    assert run.stdout.splitlines()[-4:] == [
        "    step start: 1 task, 1 successful",
        "    step each: 3 tasks, 3 successful",
        "    step join: 1 task, 1 successful",
        "    step end: 1 task, 1 successful",
    ]
    task = _console("show", "FanFlow/1/start/1", root=fan_root).stdout.splitlines()
    assert task[0] == "Task FanFlow/1/start/1" and task[5] == "    parents:  -"
    assert task[-2:] == [
        "    big: builtins.bytes (msgpack/1, 200005 bytes)",
        "    items: builtins.list (msgpack/1, 7 bytes)",
    ]
    artifact = _console("show", "FanFlow/1/start/1/items", root=fan_root).stdout.splitlines()
    assert artifact[:4] == [
        "Artifact FanFlow/1/start/1/items",
        "    type:     builtins.list",
        "    encoding: msgpack/1",
        "    size:     7 bytes (inline)",
    ]
    assert artifact[-1] == "    value:    ['a', 'b', 'c']"


def test_verify_reports_corrupted_and_missing_blobs(tmp_path: Path) -> None:
    root = tmp_path / "store"
    run_python(FAN, "run", root=root, check=True)
    ok = _console("verify", root=root)
    assert (ok.returncode, ok.stdout) == (0, "checked 1 blob and 6 inline values: 0 problems\n")

    big = DataArtifact("FanFlow/1/start/1/big", root=root, _namespace_check=False)
    blob = root / "blobs" / big.sha[:2] / big.sha[2:]
    data = bytearray(blob.read_bytes())
    data[7] ^= 0x20
    blob.write_bytes(bytes(data))
    bad = _console("verify", root=root)
    assert bad.returncode == 1
    users = [
        f"FanFlow/1/{step}/{task}/big"
        for step, task in [("start", 1), ("each", 2), ("each", 3), ("each", 4)]
    ]
    assert (
        bad.stdout.splitlines()[0]
        == f"blob {big.sha} is corrupted: its content does not match its hash"
    )
    assert sorted(line.strip() for line in bad.stdout.splitlines()[1:5]) == sorted(
        f"used by {u}" for u in users
    )
    assert bad.stdout.splitlines()[-1] == "checked 1 blob and 6 inline values: 1 problem"

    blob.unlink()
    gone = _console("verify", root=root)
    assert gone.returncode == 1
    assert gone.stdout.splitlines()[0] == f"blob {big.sha} is missing (expected at {blob})"
    read = run_python(
        "-c", "from asyncflow import Run; Run('FanFlow/1')['start'].task.data.big", root=root
    )
    assert read.returncode == 1
    assert (
        f"CorruptedBlobError: artifact 'FanFlow/1/start/1/big': blob {big.sha} is missing"
        in read.stderr
    )


@pytest.mark.parametrize(("flag", "env", "fsync"), [(True, "1", True), (False, "0", False)])
def test_the_fsync_option_reaches_the_datastore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: bool, env: str, fsync: bool
) -> None:
    from asyncflow.store import Datastore
    from asyncflow.store_options import FSYNC_OPTION

    monkeypatch.setenv("ASYNCFLOW_FSYNC", "")
    assert FSYNC_OPTION.callback is not None
    FSYNC_OPTION.callback(click.Context(click.Command("x")), FSYNC_OPTION, flag)
    assert os.environ["ASYNCFLOW_FSYNC"] == env
    assert Datastore(tmp_path).fsync is fsync


def test_a_flow_runs_with_fsync_on(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = run_python(FAN, "--fsync", "run", root=root, check=True)
    assert "Done!" in proc.stdout


def test_run_refuses_an_empty_tag_and_an_unwritable_run_id_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = run_python(FAN, "run", "--tag", "", root=root)
    assert (proc.returncode, proc.stderr) == (
        1,
        "Invalid tag operation:\n    cannot use tag '': a tag must be a non-empty string\n",
    )
    missing = tmp_path / "missing" / "run-id"
    proc = run_python(FAN, "run", "--run-id-file", str(missing), root=root)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--run-id-file': cannot write {missing}: "
        "its directory does not exist or is not writable"
    )
    assert Metaflow(root=root).flows == []  # both refused before any run was created
