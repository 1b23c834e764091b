"""Use cases: instances and credentials, reservations in and out.

Services take the ``Store`` and plain values, return plain dataclasses and raise
the errors of ``tuotempo_soap.errors``. They know nothing of SOAP or HTTP. Those
on ``unit_of_work`` (reservations, messages, reminders, answers, instances) know
nothing of SQL either: they read typed records through its repositories, and
their unit tests run on in-memory ones (``tests/unit/services/fakes.py``).
"""
