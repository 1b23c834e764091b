"""A world for campaigns: the real WSGI application in-process on the test's
database, a local HTTP SMS gateway behind a provider of our own (with inbound
SMS authenticated by a shared secret), and the process clock pointed at a file
so the dispatch worker, the services and the inbound handler see the time the
test sets, without sleeping."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from werkzeug.test import Client, TestResponse

from tests.conftest import make_instance
from tests.e2e.peers import SmsGateway
from tuotempo_soap import clock
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch.worker import OutboxWorker
from tuotempo_soap.services import instances
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.tables import messages as messages_table
from tuotempo_soap.web.app import TuotempoApp, create_app

SECRET = "inbound-secret-of-the-campaign-gateway"
OPERATOR = Actor.of(None, "test-operator", None)


@dataclass
class World:
    app: TuotempoApp
    client: Client
    settings: Settings
    store: Store
    gateway: SmsGateway
    provider: str
    clock_file: Path
    instances: list[Instance]

    def at(self, moment: datetime) -> datetime:
        """Set the process clock (naive UTC)."""
        self.clock_file.write_text(moment.isoformat())
        return moment

    def new_instance(self) -> Instance:
        """One of the world's instances routed to the gateway (``routes`` names them)."""
        return self.instances.pop()

    def send_due(self) -> int:
        """The dispatch worker, at the clock's time, until nothing is due."""
        worker = OutboxWorker(self.store, self.app.dispatch, self.settings)
        return worker.run(threading.Event(), once=True)

    def reply(self, sender: str, text: str, **fields: str) -> TestResponse:
        return self.client.post(
            f"/inbound/sms/{self.provider}",
            data={"from": sender, "text": text, **fields},
            headers={"X-Receipt-Secret": SECRET},
        )

    def accepted_to(self, number: str) -> int:
        """Messages the gateway accepted for ``number``."""
        return sum(1 for body in self.gateway.accepted.values() if body.get("to") == number)

    def message_rows(self, instance: Instance, prefix: str) -> list[dict[str, object]]:
        with self.store.unit_of_work() as connection:
            rows = connection.execute(
                select(messages_table)
                .where(
                    messages_table.c.instance_id == instance.id,
                    messages_table.c.legacy_id.like(f"{prefix}%"),
                )
                .order_by(messages_table.c.next_attempt_at, messages_table.c.id)
            ).mappings()
            return [dict(row) for row in rows]


@pytest.fixture
def world(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    gateway = SmsGateway()
    monkeypatch.setenv("TEST_CAMPAIGN_SECRET", SECRET)
    bootstrap = create_app(settings)  # migrates; the instances exist before routes name them
    names = [make_instance(bootstrap.store).instance for _ in range(3)]
    bootstrap.store.dispose()
    bootstrap.dispatch.close()
    # A name of its own: on PostgreSQL every test shares one database.
    provider = f"sms-campaigns-{secrets.token_hex(3)}"
    senders = tmp_path / "senders.json"
    senders.write_text(
        json.dumps(
            {
                "providers": {
                    provider: {
                        "type": "http",
                        "url": gateway.url,
                        "fields": {"to": "to", "text": "text", "reference": "client_ref"},
                        "idempotency_header": "Idempotency-Key",
                        "message_id_path": "messages.0.id",
                        "timeout_seconds": 5,
                        "receipts": {
                            "secret_env": "TEST_CAMPAIGN_SECRET",
                            "auth": "shared-secret",
                            "secret_header": "X-Receipt-Secret",
                            "format": "form",
                            "reference_field": "client_ref",
                            "status_field": "stat",
                        },
                    },
                    "console": {"type": "file", "path": "outbox-sent.log"},
                },
                "routes": {
                    **{name: {"SMS": provider} for name in names},
                    "*": {"*": "console"},
                },
            }
        )
    )
    clock_file = tmp_path / "clock.txt"
    clock_file.write_text(datetime(2027, 3, 10, 9, 0).isoformat())
    # Four sends at a time: the local gateway's listen queue is five deep.
    tuned = replace(settings, senders_file=senders, clock_file=clock_file, worker_concurrency=4)
    app = create_app(tuned)
    store = app.store
    members = [instances.get_instance(store, name) for name in names]
    built = World(app, Client(app), tuned, store, gateway, provider, clock_file, list(members))
    try:
        yield built
    finally:
        # On PostgreSQL the database outlives the test: leave nothing queued for
        # another test's worker to pick up.
        with store.unit_of_work(write=True) as connection:
            connection.execute(
                update(messages_table)
                .where(
                    messages_table.c.instance_id.in_([i.id for i in members]),
                    messages_table.c.status == "QUEUED",
                )
                .values(status="CANCELLED")
            )
        clock.configure(None)
        store.dispose()
        app.dispatch.close()
        gateway.close()
