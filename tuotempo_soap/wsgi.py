"""The production entry point: ``gunicorn -c gunicorn.conf.py tuotempo_soap.wsgi:application``.

Importing this module builds the application from ``TUOTEMPO_*`` settings (and
migrates the database when ``TUOTEMPO_AUTO_MIGRATE`` is on). Library code never
imports it.
"""

from .web.app import create_app

application = create_app()
