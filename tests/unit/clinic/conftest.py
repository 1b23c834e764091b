"""Unit tests of the clinic client never touch the network (zeep's own habit)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tuotempo_soap.clinic import ClinicClientFactory, ClinicEndpoint, ZeepClinicClient

from .fakes import WSDL_URL, DictCache, ScriptedClinic, clinic_wsdl, session_for


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


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
