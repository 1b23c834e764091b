"""Use cases: instances and credentials, reservations in and out.

Services take the ``Store`` and plain values, return plain dataclasses and raise
the errors of ``tuotempo_soap.errors``. They know nothing of SOAP or HTTP.
"""
