"""@card: rendering after the task commits, current.card's rules, error and timeout
cards, resume, refresh, and reading cards back with get_cards."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import pytest

from asyncflow import Engine, FlowSpec, RunResult, Task, card, step
from asyncflow.cards import CardSpec, get_cards
from asyncflow.cards.decorator import card_specs
from asyncflow.cards.testing import SEPARATOR
from asyncflow.events import Event, RunStarted
from asyncflow.exceptions import CorruptedBlobError, FlowDefinitionError, NotFoundError
from asyncflow.store import Datastore, LocalBlobStore
from asyncflow.store.maintenance import collect_garbage
from tests.flows import cards as flows

pytestmark = pytest.mark.anyio


def task_of(result: RunResult, step_name: str) -> Task:
    """The (one) task of ``step_name`` in the run ``result`` ended."""
    task = result.run[step_name].task
    assert task is not None
    return task


def test_card_records_one_spec_per_decorator_in_source_order() -> None:
    @card(type="blank", id="top", options={"title": "t"}, timeout=5, save_errors=False)
    @card
    @step
    def body(self: FlowSpec) -> None: ...

    assert card_specs(body) == [
        CardSpec("blank", "top", {"title": "t"}, 5.0, False),
        CardSpec(),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": ""}, "must name a card type"),
        ({"timeout": 0}, "must be a positive number of seconds"),
        ({"options": ["a"]}, "must be a dict"),
        ({"id": 3}, "must be a string"),
    ],
)
def test_bad_card_arguments_fail_when_the_flow_is_defined(kwargs: dict[str, object],
                                                          message: str) -> None:  # fmt: skip
    with pytest.raises(FlowDefinitionError, match=message):
        card(**kwargs)  # type: ignore[call-overload]


async def test_the_default_card_shows_the_task_escaped_and_loads_nothing(store_root: Path) -> None:
    result = await Engine().run(flows.DefaultCardFlow)
    task = task_of(result, "start")
    cards = get_cards(task)
    assert [(c.type, c.id, len(c.hash)) for c in cards] == [("default", None, 32)]
    html = cards[0].get()
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in html
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert "default-src 'none'" in html
    assert "<h1>Report &lt;b&gt;bold&lt;/b&gt;</h1>" in html  # Markdown, its raw HTML escaped
    assert "[1, 2, 3]" in html and "{&#x27;k&#x27;: 1}" in html
    assert "a string is no component" not in html
    assert "is not a card component" in task.stderr
    assert get_cards(task_of(result, "end")).__len__() == 0


async def test_get_cards_filters_and_takes_a_pathspec(store_root: Path) -> None:
    result = await Engine().run(flows.EditableRulesFlow)
    pathspec = task_of(result, "start").pathspec
    assert [c.id for c in get_cards(pathspec)] == ["named", None]
    assert [c.id for c in get_cards(pathspec, id="named")] == ["named"]
    assert len(get_cards(pathspec, type="default")) == 0
    with pytest.raises(NotFoundError, match="task 'EditableRulesFlow/1/start/99'"):
        get_cards("EditableRulesFlow/1/start/99")
    with pytest.raises(TypeError, match="wants a Task or a task pathspec"):
        get_cards(3)  # type: ignore[arg-type]


async def test_current_card_follows_metaflows_default_editable_rules(store_root: Path) -> None:
    result = await Engine().run(flows.EditableRulesFlow)

    def contents(step_name: str) -> dict[str | None, str]:
        return {c.id: c.get() for c in get_cards(task_of(result, step_name))}

    start = contents("start")
    # the card without an id is the default one; an unknown id warns, on every card too
    assert start["named"].startswith("to-named" + SEPARATOR)
    assert start[None].startswith("to-the-unnamed" + SEPARATOR)
    assert "no @card has id 'missing'" in start[None] and "lost" not in start[None]
    ambiguous = contents("ambiguous")
    assert "nowhere" not in "".join(ambiguous.values())
    assert ambiguous["plain"].endswith(SEPARATOR + "by-id")
    assert "cannot choose among several editable cards" in task_of(result, "ambiguous").stderr
    assert task_of(result, "end").data.no_card is None


async def test_customize_picks_the_card_append_edits(store_root: Path) -> None:
    result = await Engine().run(flows.EditableRulesFlow)
    cards = get_cards(task_of(result, "customized"))
    texts = [c.get() for c in cards]
    assert texts.count("custom") == 1
    custom = next(c for c in cards if c.get() == "custom")
    assert custom.id is None


async def test_failing_cards_never_fail_the_task(store_root: Path) -> None:
    result = await Engine().run(flows.FailingCardsFlow)
    assert result.successful and task_of(result, "end").data.done
    cards = {(c.type, c.id): c.get() for c in get_cards(task_of(result, "start"))}
    assert set(cards) == {("test_error_card", "saved"), ("no_such_type", None),
                          ("test_timeout_card", "slow")}  # fmt: skip
    assert "RuntimeError: Unknown Things Happened" in cards["test_error_card", "saved"]
    assert "no card type &#x27;no_such_type&#x27;" in cards["no_such_type", None]
    assert "longer than its timeout of 0.5 seconds" in cards["test_timeout_card", "slow"]


async def test_a_failed_task_has_no_card(store_root: Path) -> None:
    result = await Engine().run(flows.FailingStepFlow)
    assert not result.successful
    task = Task(f"{result.pathspec}/start/1")
    assert len(get_cards(task)) == 0


async def test_a_resumed_run_keeps_the_cards_of_the_tasks_it_clones(store_root: Path) -> None:
    flows.signals["fail_end"] = True
    try:
        first = await Engine().run(flows.ResumableCardFlow)
    finally:
        flows.signals.clear()
    assert not first.successful
    resumed = await Engine().resume(flows.ResumableCardFlow)
    clone = task_of(resumed, "start")
    [origin_card] = get_cards(task_of(first, "start"))
    [clone_card] = get_cards(clone)
    assert clone_card.get() == origin_card.get() == f"{first.pathspec}/start/1"
    assert clone_card.hash == origin_card.hash and clone_card.pathspec == clone.pathspec


async def test_cards_of_async_steps(store_root: Path) -> None:
    result = await Engine().run(flows.AsyncCardFlow)
    html = get_cards(task_of(result, "start"), type="blank")[0].get()
    assert "<title>Async &lt;title&gt;</title>" in html and "from a coroutine" in html


async def test_refresh_stores_an_interim_card_that_the_final_one_replaces(
    store_root: Path, anyio_backend: str
) -> None:
    seen = threading.Event()
    flows.signals["runtime_seen"] = seen
    started: list[str] = []
    store = Datastore()

    def listen(event: Event) -> None:
        if isinstance(event, RunStarted):
            started.append(event.pathspec)

    async def watch() -> None:
        while not seen.is_set():
            if started:
                run_id = int(started[0].split("/")[1])
                interim = store.metadata.list_cards("RefreshFlow", run_id, 1)
                if interim and interim[0].runtime:
                    seen.set()
            await anyio.sleep(0.02)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            result = await Engine(store, listeners=[listen]).run(flows.RefreshFlow)
    finally:
        flows.signals.clear()
    [final] = get_cards(task_of(result, "start"))
    assert not final.runtime and "after refresh" in final.get()
    assert seen.is_set()


async def test_card_blobs_survive_gc_and_corruption_is_named(store_root: Path) -> None:
    result = await Engine().run(flows.AsyncCardFlow)
    store = Datastore()
    collect_garbage(store, grace=0)
    [found] = get_cards(task_of(result, "start"))
    assert "from a coroutine" in found.get()
    assert isinstance(store.blobs, LocalBlobStore)
    path = store.blobs.path(found.key)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    [again] = get_cards(Task(f"{result.pathspec}/start/1"))
    with pytest.raises(CorruptedBlobError, match=f"card {again.hash} of AsyncCardFlow/1/start/1"):
        again.get()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # one is enough to cross processes
async def test_cards_are_rendered_where_the_task_runs(store_root: Path, anyio_backend: str) -> None:
    result = await Engine(executor="processes:2").run(flows.DefaultCardFlow)
    assert result.successful
    [found] = get_cards(task_of(result, "start"))
    assert "<h1>Report &lt;b&gt;bold&lt;/b&gt;</h1>" in found.get()
