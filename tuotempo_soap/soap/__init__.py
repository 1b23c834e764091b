"""The SOAP surface (Spyne, SOAP 1.1, document/literal wrapped) served at ``/soap``.

``types`` declares the wire types with the guide's field names, ``service`` the
operations (each unpacks, calls one service, packs), ``faults`` the one mapping
from domain errors to SOAP faults, ``protocol`` the hardened XML parser and
``wsdl`` the post-processing that makes the published WSDL clean for every
client generator.
"""

TNS = "http://tuotempo-soap.org/v1"
