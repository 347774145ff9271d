# mypy: disable-error-code="union-attr, index"
"""The tutorials' later episodes: a flow that reads another flow's results with the client."""

from asyncflow import Flow, FlowSpec, step


class ReadsHelloFlow(FlowSpec):
    """Takes the greeting of the latest successful HelloFlow run."""

    @step
    def start(self):
        run = Flow("HelloFlow").latest_successful_run
        self.source = run.pathspec
        self.greeting = run["hello"].task.data.greeting
        self.next(self.end)

    @step
    async def end(self):
        print(f"{self.source} said {self.greeting}")


if __name__ == "__main__":
    ReadsHelloFlow()
