"""A flow with configs, run from the command line: steps record what they see."""

import os

from asyncflow import Config, FlowSpec, Parameter, config_expr, environment, project, step


def first_and_rest(text: str) -> dict[str, str]:
    key, _, value = text.partition("=")
    return {key.strip(): value.strip()}


@project(name=config_expr("settings").project)
class ConfigScriptFlow(FlowSpec):
    settings = Config("settings", default="settings.json", default_value={"project": "fallback"})
    pair = Config("pair", parser=first_and_rest, default_value="colour = blue")
    extra = Config("extra")
    size = Parameter("size", default=config_expr("settings.get('size', 1)"), type=int)

    @environment(vars={"PROJECT_FROM_CONFIG": settings.project})
    @step
    def start(self) -> None:
        self.seen = {
            "settings": self.settings.to_dict(),
            "pair": dict(self.pair),
            "extra": None if self.extra is None else self.extra.to_dict(),
            "size": self.size,
            "env": os.environ.get("PROJECT_FROM_CONFIG"),
        }
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    ConfigScriptFlow()
