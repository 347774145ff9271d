"""A @project flow run from the command line: each step records what current reports."""

from asyncflow import FlowSpec, Parameter, current, project, step


def _project_default(ctx: object) -> str:
    return f"{current.project_name}:{current.branch_name}"


@project(name="shop")
class ProjectScriptFlow(FlowSpec):
    seen_at_start = Parameter("seen_at_start", default=_project_default)

    @step
    def start(self) -> None:
        self.facts = (
            current.project_name,
            current.branch_name,
            current.project_flow_name,
            current.is_production,
            current.is_user_branch,
        )
        self.next(self.end)

    @step
    def end(self) -> None:
        self.end_branch = current.branch_name


if __name__ == "__main__":
    ProjectScriptFlow()
