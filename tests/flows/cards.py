"""Flows for the card tests."""

import threading
from typing import Any

from asyncflow import FlowSpec, card, current, step
from asyncflow.cards import Artifact, Markdown, Table
from asyncflow.cards.testing import TestStringComponent

#: Hooks a test installs before a run.
signals: dict[str, Any] = {}


class DefaultCardFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.greeting = "<script>alert('hi')</script>"
        self.numbers = [1, 2, 3]
        current.card.append(Markdown("# Report <b>bold</b>"))
        current.card.append(Table([["a", Artifact({"k": 1})]], headers=["name", "value"]))
        current.card.append("a string is no component")
        self.next(self.end)

    @step
    def end(self):
        pass


class EditableRulesFlow(FlowSpec):
    @card(type="test_editable_card", id="named")
    @card(type="test_editable_card")
    @step
    def start(self):
        current.card.append(TestStringComponent("to-the-unnamed"))
        current.card["named"].append(TestStringComponent("to-named"))
        current.card["missing"].append(TestStringComponent("lost"))
        self.next(self.customized)

    @card(type="test_editable_card", id="first")
    @card(type="test_editable_card", customize=True)
    @card(type="test_editable_card")
    @step
    def customized(self):
        current.card.append(TestStringComponent("custom"))
        self.next(self.ambiguous)

    @card(type="test_editable_card", id="x")
    @card(type="test_editable_card", id="y")
    @card(type="test_non_editable_card", id="plain")
    @step
    def ambiguous(self):
        current.card.append(TestStringComponent("nowhere"))
        current.card["plain"].append(TestStringComponent("by-id"))
        self.next(self.end)

    @step
    def end(self):
        self.no_card = "current.card" if hasattr(current, "card") else None


class FailingCardsFlow(FlowSpec):
    @card(type="test_error_card", id="saved")
    @card(type="test_error_card", id="dropped", save_errors=False)
    @card(type="no_such_type")
    @card(type="test_timeout_card", id="slow", timeout=0.5, options={"timeout": 3})
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        self.done = True


class FailingStepFlow(FlowSpec):
    @card
    @step
    def start(self):
        if not signals.get("pass"):
            raise ValueError("the step fails")
        self.next(self.end)

    @step
    def end(self):
        pass


class ResumableCardFlow(FlowSpec):
    @card(type="taskspec_card")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        if signals.get("fail_end"):
            raise RuntimeError("fail once")


class RefreshFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        current.card.append(Markdown("before refresh"))
        current.card.refresh(force=True)
        seen = signals["runtime_seen"]
        assert isinstance(seen, threading.Event)
        seen.wait(10)
        current.card.append(Markdown("after refresh"))
        self.next(self.end)

    @step
    def end(self):
        pass


class AsyncCardFlow(FlowSpec):
    @card(type="blank", options={"title": "Async <title>"})
    @step
    async def start(self):
        current.card.append(Markdown("from a coroutine"))
        self.next(self.end)

    @step
    def end(self):
        pass
