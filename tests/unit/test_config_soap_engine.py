"""TUOTEMPO_SOAP_ENGINE: fast by default, spyne on request, anything else refused."""

from __future__ import annotations

import pytest

from tuotempo_soap.config import Settings


def test_engine_setting() -> None:
    assert Settings.from_env({}).soap_engine == "fast"
    assert Settings.from_env({"TUOTEMPO_SOAP_ENGINE": " Spyne "}).soap_engine == "spyne"
    with pytest.raises(ValueError, match="TUOTEMPO_SOAP_ENGINE"):
        Settings.from_env({"TUOTEMPO_SOAP_ENGINE": "zeep"})
