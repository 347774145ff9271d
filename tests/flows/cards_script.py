"""A flow script with cards, for the `card` command-line tests."""

from asyncflow import FlowSpec, card, current, step
from asyncflow.cards.testing import TestStringComponent


class CardScriptFlow(FlowSpec):
    @card(type="test_pathspec_card")
    @card(type="test_pathspec_card")
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @card(type="test_editable_card", id="mine")
    @step
    def each(self):
        current.card.append(TestStringComponent(f"item {self.input}"))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardScriptFlow()
