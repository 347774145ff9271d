"""Flows for ``benchmarks/cards.py``: one foreach, the same work, with and without cards."""

from asyncflow import FlowSpec, card, current, step
from asyncflow.cards import Markdown, Table


class NoCardFlow(FlowSpec):
    tasks = 100

    @step
    def start(self) -> None:
        self.items = list(range(type(self).tasks))
        self.next(self.each, foreach="items")

    @step
    def each(self) -> None:
        self.value = {"item": self.input, "square": self.input * self.input}
        self.next(self.join)

    @step
    def join(self, inputs: object) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


class DefaultCardFlow(NoCardFlow):
    @card
    @step
    def each(self) -> None:
        self.value = {"item": self.input, "square": self.input * self.input}
        current.card.append(Markdown(f"# Item {self.input}"))
        current.card.append(Table([[self.input, self.input * self.input]], headers=["x", "x²"]))
        self.next(self.join)


class BlankCardFlow(NoCardFlow):
    @card(type="blank")
    @step
    def each(self) -> None:
        self.value = {"item": self.input, "square": self.input * self.input}
        current.card.append(Markdown(f"# Item {self.input}"))
        self.next(self.join)
