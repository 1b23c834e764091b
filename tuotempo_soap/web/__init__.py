"""HTTP entry points: the WSGI application that routes ``/soap`` (Spyne),
``/soap?wsdl`` (the published contract), ``/api/v1`` (the messages API as
JSON, ``jsonapi``) and ``/healthz`` (database check), and
guards the SOAP endpoint against oversized bodies before anything parses them."""
