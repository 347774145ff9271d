"""The first Metaflow tutorial's shape: three steps, each printing one line."""

from asyncflow import FlowSpec, step


class HelloFlow(FlowSpec):
    """
    A flow that greets whoever runs it.

    Running it checks that the install works.
    """

    @step
    def start(self):
        """Every flow begins with a step called start."""
        print("HelloFlow is starting.")
        self.next(self.hello)

    @step
    def hello(self):
        """Say hello."""
        self.greeting = "Hi!"
        print(f"the flow says: {self.greeting}")
        self.next(self.end)

    @step
    def end(self):
        """Every flow finishes with a step called end."""
        print("HelloFlow is all done.")


if __name__ == "__main__":
    HelloFlow()
