"""The production entry point: ``gunicorn -c gunicorn.conf.py tuotempo_soap.wsgi:application``.

Importing this module builds the application from ``TUOTEMPO_*`` settings (and
migrates the database when ``TUOTEMPO_AUTO_MIGRATE`` is on). Library code never
imports it.
"""

from .errors import StoreUnavailableError
from .web.app import create_app

try:
    application = create_app()
except StoreUnavailableError as exc:
    # A database that cannot be reached for the migration: one line saying
    # where and why, instead of a traceback through gunicorn's loader.
    raise SystemExit(f"tuotempo-soap cannot start: {exc.message}") from None
