"""The conformance checker a clinic vendor runs against its own implementation of
``wsdl/clinic.wsdl`` before going live (``tuotempo-soap clinic check URL``).

Checks are small declarative units (``model.Check``: name, rule, operation,
function): ``checks`` calls the clinic with valid and invalid input and judges
its behaviour, ``answers`` judges every answer received against the contract
(``contract``: schema, NOT NULL fields, formats, result codes, timeouts).
``session`` and ``exchange`` make the calls through the platform's own zeep
client stack and keep every request and answer as sent; ``runner`` runs a set
of checks and cleans up what they booked; ``report`` writes the terminal,
JUnit and HTML reports; ``command`` is the click command.
"""

from .contract import OPERATIONS, Limit, default_limits
from .model import Check, CheckConfig, Report, Result, Status
from .runner import all_checks, run_checks

__all__ = [
    "OPERATIONS",
    "Check",
    "CheckConfig",
    "Limit",
    "Report",
    "Result",
    "Status",
    "all_checks",
    "default_limits",
    "run_checks",
]
