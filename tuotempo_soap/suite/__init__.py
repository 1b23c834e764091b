"""Runs SoapUI projects headless: the ``tuotempo-soap suite run`` command.

The same project file QA imports into SoapUI or ReadyAPI runs here without
them, in CI or on a laptop: SOAP and HTTP request steps with ``${...}``
property expansion, property transfers, properties steps, and the assertion
kinds a functional project uses (SOAP Response, Schema Compliance against the
WSDL cached in the project, Not SOAP Fault, SOAP Fault, XPath Match, Contains,
Not Contains, Valid/Invalid HTTP Status Codes, Response SLA). Anything else (a
Groovy script, a REST or JDBC step, a script assertion ...) is refused by name
before a single request is sent: a kind the runner does not know is never
skipped quietly.

Results come back as plain values (``runner``) that ``reports`` writes as
JUnit XML and a self-contained HTML page. Nothing here needs a database.
"""

from __future__ import annotations

from .errors import ProjectError, UnsupportedError
from .project import Project, load_project
from .runner import CaseResult, RunOptions, RunResult, run_project

__all__ = [
    "CaseResult",
    "Project",
    "ProjectError",
    "RunOptions",
    "RunResult",
    "UnsupportedError",
    "load_project",
    "run_project",
]
