"""``@environment`` and ``@secrets`` in one process: variables set for a task's body and
restored after, shared by tasks agreeing on a value, one at a time when they differ."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from asyncflow import Config, Engine, FlowSpec, environment, secrets, step

pytestmark = pytest.mark.anyio

ARRIVED: list[str] = []


def _inline(**env_vars: str) -> dict[str, object]:
    return {"type": "inline", "id": "one", "options": {"env_vars": env_vars}}


class SharedValueFlow(FlowSpec):
    """Three tasks with the same value must be inside at once to get past the barrier."""

    @step
    def start(self) -> None:
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @environment(vars={"AF_SHARED": "same"})
    @step
    async def work(self) -> None:
        ARRIVED.append(os.environ["AF_SHARED"])
        with anyio.fail_after(60):
            while len(ARRIVED) < 3:
                await anyio.sleep(0.01)
        self.seen = os.environ["AF_SHARED"]
        self.next(self.join)

    @step
    def join(self, inputs: list[FlowSpec]) -> None:
        self.all_seen = sorted(i.seen for i in inputs)
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class DifferentValuesFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.next(self.left, self.right)

    @environment(vars={"AF_SIDE": "left"})
    @step
    async def left(self) -> None:
        self.seen = [os.environ["AF_SIDE"]]
        for _ in range(20):
            await anyio.sleep(0.005)  # the other branch may run now: it must not change ours
            self.seen.append(os.environ["AF_SIDE"])
        self.next(self.join)

    @environment(vars={"AF_SIDE": "right"})
    @step
    async def right(self) -> None:
        self.seen = [os.environ["AF_SIDE"]]
        for _ in range(20):
            await anyio.sleep(0.005)
            self.seen.append(os.environ["AF_SIDE"])
        self.next(self.join)

    @step
    def join(self, inputs: list[FlowSpec]) -> None:
        self.sides = {i.seen[0]: set(i.seen) for i in inputs}
        self.outside = os.environ.get("AF_SIDE")
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


async def test_tasks_agreeing_on_a_value_run_side_by_side(store_root: Path) -> None:
    ARRIVED.clear()
    result = await Engine().run(SharedValueFlow)
    assert result.successful, result.traceback
    assert result.run["join"].task.data.all_seen == ["same"] * 3  # type: ignore[union-attr]
    assert "AF_SHARED" not in os.environ


async def test_tasks_with_different_values_never_see_each_others(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AF_SIDE", "before")
    for _ in range(5):
        result = await Engine().run(DifferentValuesFlow)
        assert result.successful, result.traceback
        data = result.run["join"].task.data  # type: ignore[union-attr]
        assert data.sides == {"left": {"left"}, "right": {"right"}}
        assert data.outside == "before"  # restored between and after
    assert os.environ["AF_SIDE"] == "before"


class FromConfigFlow(FlowSpec):
    cfg = Config("cfg", default_value={"region": "eu", "port": 8080})

    @environment(vars={"AF_REGION": cfg.region, "AF_PORT": cfg.port})
    @secrets(sources=[_inline(AF_TOKEN="s3cr3t")])
    @step
    def start(self) -> None:
        self.got = [os.environ.get(k) for k in ("AF_REGION", "AF_PORT", "AF_TOKEN")]
        self.next(self.end)

    @step
    def end(self) -> None:
        self.after = [os.environ.get(k) for k in ("AF_REGION", "AF_PORT", "AF_TOKEN")]


async def test_config_values_and_inline_secrets_become_variables(store_root: Path) -> None:
    result = await Engine().run(FromConfigFlow, {"cfg": {"region": "us", "port": 1}})
    assert result.successful, result.traceback
    assert result.run["start"].task.data.got == ["us", "1", "s3cr3t"]  # type: ignore[union-attr]
    assert result.run["end"].task.data.after == [None, None, None]  # type: ignore[union-attr]


def _secret_flow(sources: list[object]) -> type[FlowSpec]:
    class SecretFlow(FlowSpec):
        @secrets(sources=sources)
        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    return SecretFlow


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([_inline(HOME="/elsewhere")], "@secrets would overwrite the environment variable(s) HOME"),
        (
            [{"type": "vault", "id": "x"}],
            "asyncflow has no secrets backend 'vault' (it has: inline)",
        ),
        (["plain-id"], "@secrets source 'plain-id' names no backend"),
        ([_inline(A_X="1"), _inline(A_X="2")], "two @secrets sources set the variable A_X"),
        ([_inline(**{"bad-name": "1"})], "secret variable name 'bad-name' is not a valid name"),
    ],
)
async def test_bad_secrets_fail_the_task_without_showing_values(
    store_root: Path, sources: list[object], message: str
) -> None:
    home = os.environ.setdefault("HOME", "/root")
    result = await Engine().run(_secret_flow(sources))
    assert not result.successful
    assert message in str(result.exception)
    assert "/elsewhere" not in (result.traceback or "")
    assert os.environ["HOME"] == home
