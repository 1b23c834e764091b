"""Messages over plain HTTPS (guide A.5): updateMessages and searchMessages as
JSON under ``/api/v1``, beside the SOAP service and with its semantics.

``models`` declares the bodies in the contract's field names, ``routes`` the
endpoints, ``errors`` the one mapping from errors to error answers (the SOAP
faultcodes, with HTTP statuses), ``validation`` how a refused body names its
field, ``openapi`` the published description and ``api`` the WSGI application
that ties them to the operations the SOAP engines call (``soap/operations.py``).
"""

from .api import JsonApi
from .openapi import openapi_document
from .routes import PREFIX

__all__ = ["PREFIX", "JsonApi", "openapi_document"]
