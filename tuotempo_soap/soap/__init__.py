"""The SOAP surface (Spyne, SOAP 1.1, document/literal wrapped) served at ``/soap``.

``types`` declares the wire types with the guide's field names, ``service`` the
operations (each unpacks, calls one service, packs), ``faults`` the one mapping
from domain errors to SOAP faults, ``protocol`` the hardened XML parser and
``wsdl`` the post-processing that makes the published WSDL clean for every
client generator. ``compat`` lets Spyne 2.14 import on Python 3.12 and 3.13;
it is imported here so that it runs before any module of this package imports
Spyne.
"""

# Before anything imports spyne (every module of this package runs this first).
import tuotempo_soap.soap.compat  # noqa: F401

TNS = "http://tuotempo-soap.org/v1"
