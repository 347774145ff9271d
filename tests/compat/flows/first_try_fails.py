"""A flow with no decorators whose middle step fails on its first attempt only."""

from asyncflow import FlowSpec, current, step


class FirstTryFailsFlow(FlowSpec):
    """Passes only when something retries it: `run --with retry`."""

    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempts always fail")
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print(f"succeeded on attempt {self.attempt}")


if __name__ == "__main__":
    FirstTryFailsFlow()
