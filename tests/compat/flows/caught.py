"""Metaflow's CatchRetry end step: a derived exception raised on purpose, caught."""

from asyncflow import FlowSpec, catch, retry, step
from asyncflow.exception import ExternalCommandFailed


class CaughtFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @catch(var="end_ex", print_exception=False)
    @retry(times=1)
    @step
    def end(self):
        self.here = True
        raise ExternalCommandFailed("catch me!")


if __name__ == "__main__":
    CaughtFlow()
