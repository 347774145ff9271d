"""Flows for the retry, catch and timeout tests."""

import threading
from typing import Any

import anyio

from asyncflow import FlowSpec, catch, current, retry, step, timeout

#: Hooks a test installs before a run (events to set, gates to wait on).
signals: dict[str, Any] = {}


class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.kept = "from start"
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count}")
        self.partial = current.retry_count
        if current.retry_count < 2:
            raise ValueError(f"flaky failure {current.retry_count}")
        self.next(self.end)

    @step
    def end(self):
        self.seen = (self.kept, self.partial)


class AlwaysFailsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.doomed)

    @retry(times=1, minutes_between_retries=0)
    @step
    async def doomed(self):
        raise RuntimeError(f"no luck on attempt {current.retry_count}")
        self.next(self.end)

    @step
    def end(self):
        pass


class WaitingRetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @retry(minutes_between_retries=2)
    @step
    async def a(self):
        if current.retry_count < 2:
            raise ValueError("not yet")
        self.next(self.join)

    @step
    async def b(self):
        signals["b_done"].set()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class AtOnceRetryFlow(FlowSpec):
    @retry
    @step
    def start(self):
        if current.retry_count < 2:
            raise ValueError("not yet")
        self.next(self.end)

    @step
    def end(self):
        pass


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.kept = "from start"
        self.next(self.boom)

    @catch(var="error")
    @retry(times=1, minutes_between_retries=0)
    @step
    def boom(self):
        self.before = f"set by attempt {current.retry_count}, before the failure"
        {"present": 1}["missing"]
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.kept}; caught {self.error.type}"


class QuietCatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.boom)

    @catch(print_exception=False)
    @step
    async def boom(self):
        raise OSError("disk on fire")
        self.next(self.end)

    @step
    def end(self):
        self.done = True


class AsyncTimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.hang)

    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=0.05)
    @step
    async def hang(self):
        self.attempts_seen = current.retry_count
        if current.retry_count == 0:
            await anyio.sleep_forever()
        self.next(self.end)

    @step
    def end(self):
        pass


class SyncTimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.block)

    @catch(var="timed_out", print_exception=False)
    @timeout(seconds=0.05)
    @step
    def block(self):
        gate: threading.Event = signals["gate"]
        gate.wait()
        self.too_late = "the abandoned thread got here"
        signals["abandoned_finished"].set()
        self.next(self.end)

    @step
    def end(self):
        pass


class CaughtSyncTimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=1)
    @catch(var="err", print_exception=False)
    @step
    def slow(self):
        self.before = 1
        signals["gate"].wait()  # past the deadline: the thread is abandoned, not stopped
        self.after = 2
        signals["abandoned_finished"].set()
        self.next(self.end)

    @step
    def end(self):
        self.passed_down = self.before


class CaughtAsyncTimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=1)
    @catch(var="err", print_exception=False)
    @step
    async def slow(self):
        self.before = 1
        await anyio.sleep_forever()
        self.after = 2
        self.next(self.end)

    @step
    def end(self):
        self.passed_down = self.before


class SiblingFailureFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow, self.fail)

    @step
    async def slow(self):
        signals["slow_started"].set()
        await anyio.sleep_forever()
        self.next(self.join)

    @step
    async def fail(self):
        await signals["slow_started"].wait()
        raise KeyError("fail fast")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class StuckFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.stuck)

    @timeout(seconds=0.05)
    @step
    async def stuck(self):
        await anyio.sleep_forever()
        self.next(self.end)

    @step
    def end(self):
        pass


class CatchOnForeachFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan)

    @catch
    @step
    def fan(self):
        self.items = [1]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SyncSiblingFailureFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow, self.fail)

    @step
    def slow(self):
        anyio.from_thread.run_sync(signals["slow_started"].set)
        signals["gate"].wait()
        self.finished_anyway = True
        self.next(self.join)

    @step
    async def fail(self):
        await signals["slow_started"].wait()
        raise KeyError("fail fast")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
