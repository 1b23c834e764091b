"""A reference implementation of the clinic-side web services (wsdl/clinic.wsdl).

HIS vendors can read it as an example and run it as a peer; our tests run it for
real. ``contract`` declares the operations and types (the published WSDL is
exported from it); ``backend`` keeps a small SQLite agenda that really books
(``store`` the file, ``seed`` its starting data, ``agenda`` the weekly
availabilities cut into slots); ``options`` the injectable behaviour (credentials,
delays, failures, "today"); ``app`` the WSGI application; ``__main__`` the
``serve`` and ``export-wsdl`` commands.
"""

# Lets Spyne 2.14 import on Python 3.12+; must run before any module here imports spyne.
import tuotempo_soap.soap.compat  # noqa: F401
