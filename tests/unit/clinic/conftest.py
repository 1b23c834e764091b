"""Fixtures of the clinic client's tests: a scripted clinic behind requests
(no network: tests/unit/conftest.py refuses every connection)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tuotempo_soap.clinic import ClinicClientFactory, ClinicEndpoint, ZeepClinicClient

from .fakes import WSDL_URL, DictCache, ScriptedClinic, clinic_wsdl, session_for


@pytest.fixture
def clinic() -> ScriptedClinic:
    return ScriptedClinic(documents={WSDL_URL: clinic_wsdl()})


@pytest.fixture
def factory(clinic: ScriptedClinic) -> ClinicClientFactory:
    return ClinicClientFactory(wsdl_cache=DictCache(), session_factory=lambda: session_for(clinic))


@pytest.fixture
def make_client(factory: ClinicClientFactory) -> Callable[..., ZeepClinicClient]:
    def make(**options: object) -> ZeepClinicClient:
        settings: dict[str, object] = {
            "username": "platform",
            "password": "s3cret",
            "center_lid": "C1",
            "retry_backoff_seconds": 0.0,
            **options,
        }
        return factory.build(ClinicEndpoint(WSDL_URL, **settings))  # type: ignore[arg-type]

    return make
