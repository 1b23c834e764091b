"""Real folders for the data export files tests: a local folder, and FTP, FTPS
and SFTP servers started on 127.0.0.1 by the tests (pyftpdlib; FTPS with a
self-signed certificate made here; an asyncssh SFTP server in a thread), each
serving a folder of this machine so a test can write and read what the
clinic's side sees. Helpers write exports the way HIS software does."""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tuotempo_soap.services import answers, instances, reminders, reservations
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.services.reservations import ReservationFilter
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.records import ids_of
from tuotempo_soap.store.tables import reminders as reminders_table
from tuotempo_soap.store.tables import reservations as reservations_table

PASSWORD = "clinic-" + secrets.token_hex(8)
PASSWORD_ENV = "TT_TEST_FILES_PASSWORD"
MADRID = ZoneInfo("Europe/Madrid")
HEADER = (
    "APP_LID",
    "APP_DATE",
    "APP_START_TIME",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "RESOURCE_NAME",
    "LOCATION_LID",
    "LOCATION_NAME",
)


@dataclass(frozen=True)
class Folder:
    """A folder the clinic drops files into: its URL for us, its path on disk."""

    url: str
    path: Path
    options: Mapping[str, str | None]  # files source set options (host key, CA...)

    @property
    def env(self) -> dict[str, str]:
        return {PASSWORD_ENV: PASSWORD}


def local_time(days: int, hour: int, minute: int = 0) -> datetime:
    """A moment ``days`` from today at ``hour:minute`` in Madrid."""
    today = datetime.now(MADRID).date() + timedelta(days=days)
    return datetime(today.year, today.month, today.day, hour, minute, tzinfo=MADRID)


def row(lid: str, when: datetime, **fields: str) -> dict[str, str]:
    return {
        "APP_LID": lid,
        "APP_DATE": f"{when:%d/%m/%Y}",
        "APP_START_TIME": f"{when:%H:%M}",
        "USER_MOBILE_PHONE": "+34611111111",
        "USER_EMAIL": f"{lid.lower()}@example.org",
        "RESOURCE_LID": "DR1",
        "RESOURCE_NAME": "Dra. Núñez",
        "LOCATION_LID": "L1",
        "LOCATION_NAME": "Centro",
        **fields,
    }


def export_text(rows: Sequence[Mapping[str, str]], delimiter: str = ";") -> str:
    """CSV as HIS software writes it: quoted where a value holds the delimiter."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([r.get(name, "") for name in HEADER] for r in rows)
    return out.getvalue()


def write_export(
    folder: Path,
    name: str,
    rows: Sequence[Mapping[str, str]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> Path:
    path = folder / name
    path.write_bytes(export_text(rows, delimiter).encode(encoding))
    return path


def new_instance(store: Store) -> Instance:
    name = f"tt_files_{secrets.token_hex(4)}"
    return instances.create_instance(store, name)


def with_reminders(store: Store, instance: Instance) -> None:
    """E-mail reminders a day ahead, asking to confirm: patients can answer."""
    reminders.set_rules(
        store,
        instance.name,
        {"offsets_hours": [24], "ask_confirmation": True, "clinic_name": "Clinica"},
    )


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def stored(store: Store, instance: Instance, app_lid: str) -> dict[str, Any] | None:
    page = reservations.get_reservations(
        store,
        instance,
        ReservationFilter(app_lid=app_lid),
        default_page_size=10,
        max_page_size=10,
    )
    return page.reservations[0] if page.reservations else None


def read_csv(path: Path, delimiter: str = ";") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(), newline=""), delimiter=delimiter))


def patient_cancels(store: Store, instance: Instance, app_lid: str) -> None:
    """The patient answers "cancel" from the link of their e-mail reminder."""
    reminders.plan_changes(store)
    with store.unit_of_work() as connection:
        reservation_id = connection.execute(
            select(reservations_table.c.id).where(
                reservations_table.c.instance_id == instance.id,
                reservations_table.c.app_lid == app_lid,
            )
        ).scalar_one()
        planned = connection.execute(
            select(reminders_table.c.id, reminders_table.c.reservation_ids).where(
                reminders_table.c.instance_id == instance.id,
                reminders_table.c.channel == "EMAIL",
            )
        ).all()
    reminder_id = next(rid for rid, ids in planned if reservation_id in ids_of(ids))
    assert answers.link_answer(store, reminder_id, "cancel").outcome == "CANCELLED"


# --- servers --------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class FtpServer:
    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        authorizer = DummyAuthorizer()
        authorizer.add_user("clinic", PASSWORD, str(root), perm="elradfmwMT")
        base: Any = TLS_FTPHandler if tls else FTPHandler
        handler: Any = type("Handler", (base,), {"authorizer": authorizer, "banner": "test"})
        if tls:
            handler.certfile, handler.keyfile = str(tls[0]), str(tls[1])
            handler.tls_control_required = True
            handler.tls_data_required = True
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"timeout": 0.2}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.close_all()
        self.thread.join(5)


class SftpServer:
    def __init__(self, root: Path) -> None:
        import asyncssh

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == "clinic" and password == PASSWORD

        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key = self.key.export_public_key().decode().split()[0:2]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def listen() -> Any:
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_factory=Server,
                server_host_keys=[self.key],
                sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(root)),
            )

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        self.server.close()
        asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(params=["local", "ftp", "ftps", "sftp"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Folder]:
    """The clinic's folder, reached each way we reach one."""
    root = tmp_path / "clinic"
    root.mkdir()
    kind = request.param
    if kind == "local":
        yield Folder(str(root), root, {})
        return
    if kind in ("ftp", "ftps"):
        tls = _self_signed(tmp_path) if kind == "ftps" else None
        ftp = FtpServer(root, tls)
        try:
            options = {"username": "clinic", "password_env": PASSWORD_ENV}
            if tls:
                options["ca_file"] = str(tls[0])
            yield Folder(f"{kind}://127.0.0.1:{ftp.port}/", root, options)
        finally:
            ftp.close()
        return
    sftp = SftpServer(root)
    try:
        yield Folder(
            f"sftp://127.0.0.1:{sftp.port}/",
            root,
            {
                "username": "clinic",
                "password_env": PASSWORD_ENV,
                "host_key": " ".join(sftp.host_key),
            },
        )
    finally:
        sftp.close()


@pytest.fixture
def ftps_server(tmp_path: Path) -> Iterator[tuple[FtpServer, Path, Path]]:
    root = tmp_path / "clinic"
    root.mkdir()
    tls = _self_signed(tmp_path)
    server = FtpServer(root, tls)
    try:
        yield server, root, tls[0]
    finally:
        server.close()


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[tuple[SftpServer, Path]]:
    root = tmp_path / "clinic"
    root.mkdir()
    server = SftpServer(root)
    try:
        yield server, root
    finally:
        server.close()
