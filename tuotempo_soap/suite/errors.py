"""The runner's own errors: a project it cannot read, or cannot run faithfully."""

from __future__ import annotations


class ProjectError(Exception):
    """The project file cannot be run: unreadable, not a SoapUI project, or
    inconsistent (a transfer naming a step that does not exist ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedError(ProjectError):
    """The project uses step, assertion or expansion kinds the runner does not
    implement. ``problems`` names each one and where it is, so nothing is run
    (and nothing passes) on a reading of the project that leaves parts out."""

    def __init__(self, problems: list[str]) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            "the project uses what this runner does not support, so nothing was run:\n" + lines
        )
        self.problems = problems
