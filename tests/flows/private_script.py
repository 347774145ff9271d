"""A flow with a private artifact, as a script, for dump --private."""

from asyncflow import FlowSpec, step


class PrivateDumpFlow(FlowSpec):
    @step
    def start(self):
        self.shown = "public"
        self._note = "private"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PrivateDumpFlow()
