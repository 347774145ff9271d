from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import pytest

from asyncflow.events import Event, Listener, RunStarted, TaskOutput, to_loop

P = "F/1/s/1"


@pytest.mark.anyio
async def test_events_from_threads_come_before_a_later_event_on_the_loop() -> None:
    seen: list[tuple[Event, int]] = []
    listener = to_loop(lambda e: seen.append((e, threading.get_ident())))

    def worker() -> None:
        listener(TaskOutput(P, "stdout", "one"))
        listener(TaskOutput(P, "stdout", "two"))

    await anyio.to_thread.run_sync(worker)
    listener(RunStarted("F/1"))
    loop = threading.get_ident()
    assert seen == [
        (TaskOutput(P, "stdout", "one"), loop),
        (TaskOutput(P, "stdout", "two"), loop),
        (RunStarted("F/1"), loop),
    ]


@pytest.mark.anyio
async def test_a_callback_error_from_a_thread_event_surfaces_on_the_loop() -> None:
    def callback(event: Event) -> None:
        raise ValueError(f"cannot take {type(event).__name__}")

    listener = to_loop(callback)
    await anyio.to_thread.run_sync(listener, TaskOutput(P, "stdout", "x"))
    with pytest.raises(ValueError) as info:
        listener(RunStarted("F/1"))
    assert str(info.value) == "cannot take TaskOutput"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_events_after_the_loop_ended_are_dropped(backend: str) -> None:
    seen: list[Event] = []

    async def make() -> Listener:
        return to_loop(seen.append)

    listener = anyio.run(make, backend=backend)
    errors: list[BaseException] = []

    def late() -> None:
        try:
            listener(TaskOutput(P, "stdout", "too late"))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join()
    assert (seen, errors) == ([], [])
