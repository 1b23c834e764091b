"""No request value reaches a log line, at any level: a fuzz corpus of valid,
odd and broken envelopes full of one patient's data goes through the real
application with every logger at DEBUG (Spyne's included, as an operator
chasing a problem would set them), and the patient is nowhere in the log."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace

import pytest

from tests.conftest import make_instance
from tests.fuzz_envelopes import Patient, corpus
from tests.integration.soap.conftest import SoapHttp
from tuotempo_soap.config import Settings
from tuotempo_soap.web.app import create_app

CORPUS_SIZE = 400  # the whole corpus (about 360 requests)


def test_a_fuzz_run_logs_no_patient_data(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: everything that propagates
    app = create_app(replace(settings, log_level="DEBUG"))
    try:
        # After the application is built, as an operator chasing a SOAP problem
        # would: Spyne's loggers at DEBUG too (they log whole documents there).
        for name in [*logging.root.manager.loggerDict, "spyne", "spyne.protocol.xml"]:
            if name.startswith("spyne"):
                logging.getLogger(name).setLevel(logging.DEBUG)
        who = make_instance(app.store)
        patient = Patient.invent(seed=8)
        http = SoapHttp(app)
        statuses: Counter[int] = Counter()
        for request in corpus(who.auth(), patient, seed=8, size=CORPUS_SIZE):
            headers = dict(request.headers)
            response = http.post(
                request.body,
                content_type=headers.pop("Content-Type", None),
                soap_action=headers.pop("SOAPAction", None),
            )
            statuses[response.status_code] += 1
    finally:
        app.store.dispose()

    # The run met the paths that used to log values: faults of every kind, and successes.
    assert statuses[200] >= 4 and statuses[500] >= 100 and statuses[415] >= 4, statuses
    text = caplog.text + "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
        for record in caplog.records
    )
    assert "soap fault Client.ValidationError field=MAX_RESULTS" in text  # the capture works
    leaked = sorted(needle for needle in patient.needles() if needle.lower() in text.lower())
    assert leaked == [], f"patient data in the log: {leaked}"
