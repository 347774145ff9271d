"""A flow that stops between writing a blob and committing it, until the test says go.

Artifacts persist in name order: ``a_big`` is written to a blob file, then
pickling ``z_waiter`` signals ``persisting`` and waits for ``release``.
"""

from asyncflow import FlowSpec, step
from tests.flows.rendezvous import rendezvous_dir, wait_until


class Waiter:
    """Pickles to the string 'released', once the test creates the release file."""

    def __reduce_ex__(self, protocol):
        here = rendezvous_dir()
        (here / "persisting").touch()
        wait_until((here / "release").exists, "the release file")
        return (str, ("released",))

    def __deepcopy__(self, memo):
        return self


class GcDuringRunFlow(FlowSpec):
    @step
    def start(self):
        self.committed = b"c" * 300_000
        self.next(self.slow)

    @step
    def slow(self):
        self.a_big = b"u" * 300_000
        self.z_waiter = Waiter()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GcDuringRunFlow()
