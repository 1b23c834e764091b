"""HTTP entry points: the WSGI application that routes ``/soap`` (Spyne),
``/soap?wsdl`` (the published contract) and ``/healthz`` (database check), and
guards the SOAP endpoint against oversized bodies before anything parses them."""
