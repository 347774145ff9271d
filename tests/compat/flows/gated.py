"""A flow that fails until a file next to it says 'open': the resume tutorial's shape."""

from pathlib import Path

from asyncflow import FlowSpec, Parameter, current, step


class GatedFlow(FlowSpec):
    """Counts to a parameter, with a gate in the middle."""

    gate = Parameter("gate", help="The file that must say 'open'.", default="gate.txt")

    @step
    def start(self):
        self.numbers = list(range(4))
        self.start_origin = current.origin_run_id
        self.next(self.check_gate)

    @step
    def check_gate(self):
        state = Path(self.gate).read_text().strip()
        if state != "open":
            raise RuntimeError(f"the gate is {state}")
        self.total = sum(self.numbers)
        self.gate_origin = current.origin_run_id
        self.next(self.end)

    @step
    def end(self):
        print(f"total={self.total}")


if __name__ == "__main__":
    GatedFlow()
