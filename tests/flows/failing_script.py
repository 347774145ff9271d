from asyncflow import FlowSpec, step


class BrokenAtRuntimeFlow(FlowSpec):
    @step
    def start(self):
        self.kept = "yes"
        self.next(self.boom)

    @step
    def boom(self):
        print("about to fail")
        {"present": 1}["missing-key"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BrokenAtRuntimeFlow()
