"""One flow in a script, for ``Runner("path/to/runner_script.py")``."""

from asyncflow import FlowSpec, step


class Point:
    """A class only this file defines: artifacts of it must load in other processes."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class ScriptFlow(FlowSpec):
    @step
    def start(self):
        self.point = Point(3, 4)
        self.next(self.end)

    @step
    async def end(self):
        self.norm2 = self.point.x**2 + self.point.y**2


if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run when Runner loads this file")
