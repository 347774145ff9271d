"""Static branches, joins, and merge_artifacts through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncflow import Engine, Run
from asyncflow.exceptions import (
    MergeArtifactsError,
    MissingInMergeArtifactsError,
    UnhandledInMergeArtifactsError,
)

from .flows.branches import (
    BranchFlow,
    MergeConflictFlow,
    MergeIncludeFlow,
    MergeMisuseFlow,
    NestedBranchFlow,
)

pytestmark = pytest.mark.anyio


async def test_a_join_reaches_its_inputs_by_name_index_and_iteration(store_root: Path) -> None:
    result = await Engine().run(BranchFlow)
    assert result.status == "successful", result.traceback
    join = Run(result.pathspec)["join"].task
    assert join is not None
    assert join.data.by_name == [2, 3]
    assert join.data.by_index == [2, 3]
    assert join.data.by_iteration == [2, 3]
    assert join.data.input_count == 2


async def test_a_join_inherits_nothing_until_it_merges(store_root: Path) -> None:
    result = await Engine().run(BranchFlow)
    run = Run(result.pathspec)
    join, end, start = run["join"].task, run["end"].task, run["start"].task
    assert join is not None and end is not None and start is not None
    assert join.data.inherited_before_merge is False
    assert end.data.seen_at_end == ["same everywhere", "a", False]
    # merged artifacts are passed down by reference: the same stored value
    assert join["common"].sha == start["common"].sha
    assert "x" not in join


async def test_lineage_records_each_tasks_parents(store_root: Path) -> None:
    result = await Engine().run(BranchFlow)
    meta = Engine().datastore.metadata
    tasks = {t.step: t for t in meta.list_tasks("BranchFlow", result.run_id)}
    ids = {step: t.task_id for step, t in tasks.items()}
    assert tasks["start"].parents == []
    assert tasks["a"].parents == [ids["start"]]
    assert tasks["b"].parents == [ids["start"]]
    assert tasks["join"].parents == [ids["a"], ids["b"]]
    assert tasks["end"].parents == [ids["join"]]
    join = Run(result.pathspec)["join"].task
    assert join is not None
    assert sorted(t.pathspec.split("/")[2] for t in join.parent_tasks) == ["a", "b"]


async def test_merge_names_every_conflict_the_join_did_not_resolve(store_root: Path) -> None:
    result = await Engine().run(MergeConflictFlow)
    assert isinstance(result.exception, UnhandledInMergeArtifactsError)
    assert str(result.exception) == (
        "step 'join' cannot merge artifacts whose values differ between its inputs: w, x; "
        "set them in the join (self.<name> = ...) before calling merge_artifacts, or exclude them"
    )
    join = Run(result.pathspec)["join"].task
    assert join is not None and not join.successful
    assert "z" not in join  # a failed merge sets nothing


async def test_merge_with_include_takes_only_what_it_names(store_root: Path) -> None:
    result = await Engine().run(MergeIncludeFlow)
    assert result.status == "successful", result.traceback
    run = Run(result.pathspec)
    join, start = run["join"].task, run["start"].task
    assert join is not None and start is not None
    assert join.data.shared == {"k": [1, 2]}
    assert join.data.has_differs is False
    assert join["shared"].sha == start["shared"].sha


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        (
            "both",
            MergeArtifactsError,
            "step 'join' passed both include= and exclude= to merge_artifacts(); "
            "use one or the other",
        ),
        (
            "missing",
            MissingInMergeArtifactsError,
            "step 'join' asks merge_artifacts to include nothing, nowhere, which no input has",
        ),
        (
            "not-a-join",
            MergeArtifactsError,
            "merge_artifacts() works only in a join step, and step 'start' is not one",
        ),
    ],
)
async def test_merge_misuse_fails_clearly(
    store_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.setattr(MergeMisuseFlow, "mode", mode)
    result = await Engine().run(MergeMisuseFlow)
    assert type(result.exception) is error
    assert str(result.exception) == message


async def test_artifacts_travel_through_nested_joins(store_root: Path) -> None:
    result = await Engine().run(NestedBranchFlow)
    assert result.status == "successful", result.traceback
    end = Run(result.pathspec)["outer_join"].task
    assert end is not None
    assert end.data.trails == [
        ["start", "left", "l1", "start", "left", "l2"],
        ["start", "right"],
    ]
