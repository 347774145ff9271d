"""The client API read in process: navigation, not-found errors, namespaces, tags, laziness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncflow import (
    DataArtifact,
    Engine,
    Flow,
    Metaflow,
    NamespaceMismatchError,
    NotFoundError,
    Run,
    Step,
    TagError,
    Task,
    client,
    default_namespace,
    get_namespace,
    namespace,
)
from asyncflow.client import _namespaces
from asyncflow.engine import current_user
from asyncflow.exceptions import CorruptedBlobError, PathspecError
from asyncflow.store import Datastore

from .flows.client_flows import FanFlow
from .flows.linear import MixedFlow

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _restore_namespace() -> Iterator[None]:
    saved = _namespaces._namespace
    yield
    _namespaces._namespace = saved


async def _run(flow: type, user: str | None = None, tags: tuple[str, ...] = ()) -> str:
    result = await Engine(Datastore()).run(flow, tags=tags, user=user)
    assert result.successful
    return result.pathspec


async def test_navigation_from_metaflow_down_to_artifacts(store_root: Path) -> None:
    await _run(MixedFlow)
    pathspec = await _run(FanFlow)
    assert [f.id for f in Metaflow().flows] == ["FanFlow", "MixedFlow"]
    run = Flow("FanFlow").latest_run
    assert run is not None and run.pathspec == pathspec and run == Run(pathspec)
    assert run.successful and run.finished and run.status == "successful"
    assert run.finished_at is not None and run.created_at <= run.finished_at
    assert [s.id for s in run] == ["start", "each", "join", "end"]
    assert run.data is not None and run.data.answer == 42
    assert run.end_task == run["end"].task

    start = run["start"].task
    assert start is not None and start.stdout == "starting\n" and start.stderr == ""
    assert start.index is None and start.parent_tasks == [] and start.successful
    each = run["each"].tasks()
    assert sorted((t.index, t.data.item) for t in each) == [(0, "A"), (1, "B"), (2, "C")]
    assert start.child_tasks == each
    join = run["join"].task
    assert join is not None and join.parent_tasks == each
    assert [t.child_tasks for t in each] == [[join]] * 3
    assert join.data.joined == "ABC"

    big = start["big"]
    assert big == DataArtifact(f"{start.pathspec}/big")
    assert (big.encoding, big.size, big.inline) == ("msgpack/1", 200_005, False)
    assert len(big.sha) == 64 and big.data == b"x" * 200_000
    assert {a.id for a in start.artifacts} == {"big", "items"}
    assert start["items"].metadata["type"] == "builtins.list"


async def test_unknown_objects_raise_not_found_naming_the_pathspec(store_root: Path) -> None:
    pathspec = await _run(MixedFlow)
    cases = [
        (lambda: Flow("NoSuchFlow"), "flow 'NoSuchFlow' does not exist"),
        (lambda: Run("MixedFlow/99"), "run 'MixedFlow/99' does not exist"),
        (lambda: Flow("MixedFlow")["7"], "run 'MixedFlow/7' does not exist"),
        (lambda: Step(f"{pathspec}/nope"), f"step '{pathspec}/nope' does not exist"),
        (lambda: Run(pathspec)["nope"], f"step '{pathspec}/nope' does not exist"),
        (lambda: Task(f"{pathspec}/start/99"), f"task '{pathspec}/start/99' does not exist"),
        (
            lambda: DataArtifact(f"{pathspec}/start/1/nope"),
            f"artifact '{pathspec}/start/1/nope' does not exist",
        ),
    ]
    for make, message in cases:
        with pytest.raises(NotFoundError) as info:
            make()
        assert info.value.message == message


def test_looking_up_where_no_flow_ran_names_the_object_and_the_datastore(
    store_root: Path,
) -> None:
    where = f"{store_root} (metadata: sqlite://{store_root / 'metadata.db'})"
    cases = [
        (lambda: Flow("NoSuchFlow"), "flow 'NoSuchFlow'"),
        (lambda: Run("NoSuchFlow/1"), "run 'NoSuchFlow/1'"),
        (lambda: Step("NoSuchFlow/1/start"), "step 'NoSuchFlow/1/start'"),
        (lambda: Task("NoSuchFlow/1/start/1"), "task 'NoSuchFlow/1/start/1'"),
        (lambda: DataArtifact("NoSuchFlow/1/start/1/x"), "task 'NoSuchFlow/1/start/1'"),
    ]
    for make, thing in cases:
        with pytest.raises(NotFoundError) as info:
            make()
        assert info.value.message == (
            f"{thing} does not exist: no flow has run in the datastore {where} yet"
        )
    assert not store_root.exists()  # looking created nothing


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda: Run("MixedFlow/abc"), "its RUN_ID 'abc' is not a number"),
        (lambda: Run("MixedFlow"), "it has 1 part, not 2"),
        (lambda: Run("F//3"), "it has 3 parts, not 2"),
        (lambda: Step("F//3"), "its RUN_ID part is empty"),
        (lambda: Task("F/../../x"), "its RUN_ID '..' is not a number"),
        (lambda: Task("F/1/../2"), "its STEP '..' is not a Python name"),
        (lambda: Flow(""), "it is empty"),
        (lambda: Run(3), "it is an int, not a string"),  # type: ignore[arg-type]
        (lambda: DataArtifact("F/1/start/1/x/y"), "it has 6 parts, not 5"),
    ],
)
def test_malformed_pathspecs_say_what_a_pathspec_looks_like(
    store_root: Path, make: Callable[[], object], problem: str
) -> None:
    with pytest.raises(PathspecError) as info:
        make()
    assert problem in info.value.message
    assert "pathspec is FLOW" in info.value.message  # and what one looks like
    assert isinstance(info.value, ValueError) and info.value.exit_code == 2


async def test_namespaces_filter_runs_and_guard_direct_access(store_root: Path) -> None:
    me = current_user()
    mine = await _run(MixedFlow)
    theirs = await _run(MixedFlow, user="someone-else", tags=("shared",))
    assert get_namespace() == f"user:{me}"

    flow = Flow("MixedFlow")
    assert [r.pathspec for r in flow.runs()] == [mine]
    assert flow.latest_run is not None and flow.latest_run.pathspec == mine
    assert "2" not in flow and "1" in flow
    with pytest.raises(NamespaceMismatchError) as info:
        Run(theirs)
    assert info.value.message == (
        f"run '{theirs}' is not in namespace 'user:{me}'; use namespace(None) to see every run"
    )
    with pytest.raises(NamespaceMismatchError):
        Task(f"{theirs}/start/1")
    assert Run(theirs, _namespace_check=False).user == "someone-else"

    assert namespace("user:someone-else") == "user:someone-else"
    assert [r.pathspec for r in flow.runs()] == [theirs]
    namespace("shared")  # any tag is a namespace
    assert [r.pathspec for r in flow.runs()] == [theirs]
    namespace(None)
    assert get_namespace() is None
    assert [r.pathspec for r in flow.runs()] == [theirs, mine]
    assert Run(theirs).data is not None
    assert default_namespace() == f"user:{me}" == get_namespace()
    assert [r.pathspec for r in flow.runs()] == [mine]


async def test_tags_are_added_removed_and_filter_runs(store_root: Path) -> None:
    first = await _run(MixedFlow, tags=("nightly",))
    second = await _run(MixedFlow)
    run = Run(second)
    assert run.user_tags == frozenset()
    assert f"user:{current_user()}" in run.system_tags and "runtime:asyncflow" in run.tags
    run.add_tag("candidate")
    run.add_tags(["nightly", "v2"])
    assert Run(second).user_tags == {"candidate", "nightly", "v2"}  # a fresh object sees it
    run.remove_tag("v2")
    run.replace_tag("candidate", "approved")
    assert run.user_tags == {"approved", "nightly"}

    flow = Flow("MixedFlow")
    assert [r.pathspec for r in flow.runs("nightly")] == [second, first]
    assert [r.pathspec for r in flow.runs("nightly", "approved")] == [second]
    assert flow.runs("nope") == []

    with pytest.raises(TagError) as info:
        run.remove_tag("runtime:asyncflow")
    assert info.value.message == (
        f"cannot use tag 'runtime:asyncflow' on run '{second}': it is a system tag"
    )
    with pytest.raises(TagError) as info:
        run.add_tag("  ")
    assert info.value.message == "cannot use tag '  ': a tag must be a non-empty string"
    assert run.user_tags == {"approved", "nightly"}


async def test_tag_changes_follow_metaflows_rules(store_root: Path) -> None:
    run = Run(await _run(MixedFlow))
    system = sorted(run.system_tags)[0]
    run.add_tags(["along", system])  # a system tag already there is not added twice
    assert run.user_tags == {"along"} and system in run.system_tags
    with pytest.raises(TagError):  # all or nothing: "along" stays
        run.remove_tags(["along", system])
    assert run.user_tags == {"along"}
    run.add_tag(["a", "b"])  # Metaflow's deprecated list forms
    run.replace_tag(["a", "b"], ["c"])
    run.remove_tag(["along"])
    assert run.user_tags == {"c"}
    run.replace_tags(["c", "d"], ["c", "e"])  # remove, then add: "c" stays
    assert run.user_tags == {"c", "e"}
    run.remove_tag("e")
    with pytest.raises(TagError) as info:
        run.replace_tags([], [])
    assert info.value.message == (
        f"cannot change the tags on run '{run.pathspec}': give at least one tag to remove or add"
    )
    for bad, shown in ((b"\xff\xfe", "b'\\xff\\xfe'"), (4, "4")):
        with pytest.raises(TagError) as info:
            run.add_tag(bad)  # type: ignore[arg-type]
        assert info.value.message == f"cannot use tag '{shown}': a tag must be a non-empty string"
    assert run.user_tags == {"c"}


async def test_a_run_objects_tags_are_as_its_own_changes_left_them(store_root: Path) -> None:
    """As Metaflow's: a run object's tags are as read when it was made, then as each
    change made through it left them (so a task's add_tag(t) then `t in user_tags`
    holds while parallel tasks change the tags); a fresh object reads them again."""
    pathspec = await _run(MixedFlow, tags=("nightly",))
    mine, theirs = Run(pathspec), Run(pathspec)
    theirs.add_tag("x")
    theirs.remove_tag("nightly")
    assert mine.user_tags == {"nightly"} and "nightly" in mine.tags
    assert mine.status == "successful" and mine.user_tags == {"nightly"}  # still as read
    mine.add_tag("y")  # the change's result: theirs included
    assert mine.user_tags == {"x", "y"} and "nightly" not in mine.tags
    assert theirs.user_tags == {"x"}
    assert Run(pathspec).user_tags == {"x", "y"}


async def test_steps_tasks_and_artifacts_carry_the_runs_tags(store_root: Path) -> None:
    """As in Metaflow: a flow has no tags, everything under a run has the run's (also
    once changed), and filtering a run's steps or a step's tasks by tag keeps all or none."""
    run = Run(await _run(MixedFlow, tags=("nightly",)))
    run.add_tag("later")
    flow, step = run.parent, run["double"]
    task = step.task
    assert task is not None
    artifact = task["numbers"]
    assert flow.tags == frozenset() and flow.user_tags == flow.system_tags == frozenset()
    for obj in (step, task, artifact):
        assert obj.tags == run.tags and "later" in obj.tags
        assert obj.user_tags == {"nightly", "later"}
        assert obj.system_tags == run.system_tags
    user_tag = f"user:{current_user()}"
    assert [s.id for s in run.steps("nightly", user_tag)] == [s.id for s in run]
    assert run.steps("nightly", "nope") == []
    assert [t.pathspec for t in step.tasks("later")] == [task.pathspec]
    assert step.tasks("nope") == []


async def test_artifacts_load_lazily_and_once_per_object(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pathspec = await _run(MixedFlow)
    store = client.get_datastore()
    loads: list[str] = []
    real_load = store.load

    def counting_load(ref: Any, **kwargs: Any) -> Any:
        loads.append(ref.name)
        return real_load(ref, **kwargs)

    monkeypatch.setattr(store, "load", counting_load)
    task = Task(f"{pathspec}/end/4")
    assert sorted(a.id for a in task.artifacts) == [
        "config", "loop_pathspec", "numbers", "thread_pathspec", "total", "untouched",
    ]  # fmt: skip
    assert loads == []
    artifact = task["total"]
    assert artifact.data == artifact.data == 112
    assert task.data.total == 112
    assert loads == ["total"]
    assert Task(f"{pathspec}/end/4")["total"].data == 112  # another object loads again
    assert loads == ["total", "total"]


async def test_awaitable_variants_read_without_blocking_the_loop(store_root: Path) -> None:
    pathspec = await _run(FanFlow)
    flow = Flow("FanFlow")
    run = await flow.alatest_run()
    assert run is not None and run.pathspec == pathspec
    assert [r.pathspec for r in await flow.aruns()] == [pathspec]
    assert (await flow.alatest_successful_run()) == run
    data = await run.adata()
    assert data is not None and await data.aget("answer") == 42
    end = await run.aend_task()
    assert end is not None
    artifact = end["answer"]
    assert await artifact.aload() == 42
    tasks = await run["each"].atasks()
    assert len(tasks) == 3
    assert {a.id for a in await tasks[0].aartifacts()} >= {"item", "big"}
    assert await client.in_thread(lambda: Flow("FanFlow")["1"]["join"].task.data.joined) == "ABC"  # type: ignore[union-attr]


async def test_a_corrupted_blob_names_the_artifact_never_a_wrong_value(store_root: Path) -> None:
    pathspec = await _run(FanFlow)
    artifact = DataArtifact(f"{pathspec}/start/1/big")
    path = client.get_datastore().local_blobs.path(artifact.sha)
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedBlobError) as info:
        _ = artifact.data
    assert info.value.message == (
        f"artifact '{pathspec}/start/1/big': blob {artifact.sha} is corrupted: "
        "its content does not match its hash"
    )
    path.unlink()
    with pytest.raises(CorruptedBlobError, match=f"artifact '{pathspec}/start/1/big': blob"):
        _ = DataArtifact(f"{pathspec}/start/1/big").data


async def test_inside_a_step_the_default_namespace_is_the_runs(store_root: Path) -> None:
    from .flows.client_flows import NamespaceProbeFlow

    result = await Engine(Datastore()).run(NamespaceProbeFlow, namespace="team:probe")
    assert result.run.data is not None and result.run.data.seen == "team:probe"
    assert get_namespace() == f"user:{current_user()}"  # the caller's is unchanged
