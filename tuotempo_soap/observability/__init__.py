"""What the running server tells its operators: metrics and log lines.

- ``context``: the request being answered (its id, operation, instance, fault),
  shared by the access log, the application log and a fault's reference.
- ``logs``: one JSON object per line, or plain text for development.
- ``metrics``: every Prometheus metric of the project, changed through small
  functions; nothing else imports prometheus_client.
- ``multiprocess``: gunicorn's hooks that make the workers' metrics add up.

It imports nothing else of the project, so every layer may call it. Importing
``context``, ``logs`` or ``multiprocess`` does not import prometheus_client,
which must not be imported before ``PROMETHEUS_MULTIPROC_DIR`` is settled.
"""
