"""SoapUI property expansion: ``${#Project#NAME}``, ``${#TestSuite#NAME}``,
``${#TestCase#NAME}``, ``${#Env#NAME}`` and ``${Step name#Property}``.

Values are put in as they are (SoapUI does not escape them for XML either).
Expansion repeats, innermost first, until nothing is left to expand, so a
property may hold another expansion. A property that does not exist is an
error naming it, where SoapUI would quietly put in nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from .project import EXPANSION

_ROUNDS = 10


class ExpansionError(ValueError):
    pass


@dataclass
class Scope:
    """Every property a step of one test case run can see."""

    project: MutableMapping[str, str]
    suite: MutableMapping[str, str]
    case: MutableMapping[str, str]
    steps: MutableMapping[str, MutableMapping[str, str]]
    env: Mapping[str, str]

    property_steps: frozenset[str] = frozenset()

    def holder(self, name: str) -> MutableMapping[str, str] | None:
        """The property holder a transfer reads: ``#Project#`` ... or a step."""
        return {
            "#Project#": self.project,
            "#TestSuite#": self.suite,
            "#TestCase#": self.case,
        }.get(name, self.steps.get(name))

    def writable(self, name: str) -> MutableMapping[str, str] | None:
        """The holder a transfer may write: a scope, or a Properties step."""
        if name.startswith("#") or name in self.property_steps:
            return self.holder(name)
        return None

    def resolve(self, reference: str) -> str:
        if reference.startswith("#"):
            scope, _, name = reference[1:].partition("#")
            holders: dict[str, Mapping[str, str]] = {
                "Project": self.project,
                "TestSuite": self.suite,
                "TestCase": self.case,
                "Env": self.env,
            }
            holder = holders.get(scope)
            if holder is None:
                raise ExpansionError(f"${{{reference}}}: no {scope} scope")
            if name not in holder:
                raise ExpansionError(f"${{{reference}}}: the {scope} has no property {name!r}")
            return holder[name]
        step, _, name = reference.partition("#")
        properties = self.steps.get(step)
        if properties is None:
            raise ExpansionError(f"${{{reference}}}: no step {step!r} in this test case")
        if name not in properties:
            raise ExpansionError(
                f"${{{reference}}}: step {step!r} has no property {name!r} (has it run yet?)"
            )
        return properties[name]


def expand(text: str, scope: Scope) -> str:
    for _ in range(_ROUNDS):
        expanded = EXPANSION.sub(lambda match: scope.resolve(match.group(1)), text)
        if expanded == text:
            return expanded
        text = expanded
    raise ExpansionError("property expansion does not settle (does a property name itself?)")
