"""Metaflow's failure handling: @retry, @catch and @timeout stacked, and current.*."""

import sys

import anyio

from asyncflow import FlowSpec, Parameter, catch, current, retry, step, timeout


class RobustFlow(FlowSpec):
    """Steps that fail on purpose, and a step that reports where it runs."""

    alpha = Parameter("alpha", default=0.5)
    run_label = Parameter("run-label", default="x")

    @catch(var="start_error")
    @step
    def start(self):
        self.where = {
            "flow_name": current.flow_name,
            "run_id": current.run_id,
            "step_name": current.step_name,
            "task_id": current.task_id,
            "pathspec": current.pathspec,
            "username": current.username,
            "namespace": current.namespace,
            "retry_count": current.retry_count,
            "origin_run_id": current.origin_run_id,
            "is_running_flow": current.is_running_flow,
            "tags": sorted(current.tags),
            "parameter_names": current.parameter_names,
            "is_production": current.is_production,
        }
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count} to stdout")
        print(f"attempt {current.retry_count} to stderr", file=sys.stderr)
        if current.retry_count < 2:
            raise RuntimeError(f"flaky attempt {current.retry_count}")
        self.attempts = current.retry_count
        self.next(self.doomed)

    @catch(var="doomed_error")
    @retry(times=1, minutes_between_retries=0)
    @step
    def doomed(self):
        raise ValueError("this step always fails")
        self.next(self.slow)

    @catch(var="slow_error", print_exception=False)
    @timeout(seconds=1)
    @step
    async def slow(self):
        await anyio.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        self.doomed_type = self.doomed_error.type
        self.slow_caught = self.slow_error is not None
        self.start_error_is_none = self.start_error is None
        print("done despite failures")


if __name__ == "__main__":
    RobustFlow()
