"""The tutorial's ArtifactFlow with ``async def`` steps, awaited on the event loop."""

import anyio

from asyncflow import FlowSpec, step


class AsyncArtifactFlow(FlowSpec):
    @step
    async def start(self):
        self.next(self.create_artifact)

    @step
    async def create_artifact(self):
        await anyio.sleep(0)  # an async step may await anything: I/O, a service, a model
        self.dataset = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        self.metadata_description = "created"
        self.next(self.transform_artifact)

    @step
    async def transform_artifact(self):
        self.dataset = [[value * 10 for value in row] for row in self.dataset]
        self.metadata_description = "transformed"
        self.next(self.end)

    @step
    async def end(self):
        print(f"Artifact is in state `{self.metadata_description}` with values {self.dataset}")


if __name__ == "__main__":
    AsyncArtifactFlow()
