"""The agent's own state, in a local SQLite file, so a restart resumes.

It holds, per APP_LID sent, the checksum of what was sent (``rows``); the
checksums of TT_RESOURCES rows (``resources``); the cancellations written into
TT_DELETE_RESERVATION (``deliveries``); and in ``meta`` the server's
getReservations cursor, the change column's high-water mark and which server
and instance the file belongs to. No patient data: ids, days and checksums.

The file is the agent's alone: one lock file keeps two runs (a cron job and a
loop, say) from working at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from .changes import Known
from .errors import StateError

metadata = MetaData()

rows = Table(
    "rows",
    metadata,
    Column("app_lid", String, primary_key=True),
    Column("checksum", String, nullable=True),  # NULL: send again at the next run
    Column("app_date", Date, nullable=False),
    Column("resource_lid", String, nullable=False),
    Column("sent_at", DateTime, nullable=True),
)
resources = Table(
    "resources",
    metadata,
    Column("resource_lid", String, primary_key=True),
    Column("checksum", String, nullable=False),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column("app_tmp_id", String, primary_key=True),
    Column("app_lid", String, nullable=False, index=True),
    Column("delivered_at", DateTime, nullable=False),
    # 1 while the appointment stands cancelled by the patient; 0 once the
    # clinic has re-instated it (then its row is the clinic's to send again).
    Column("active", Integer, nullable=False, default=1),
)
meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

SERVER_CURSOR = "server_cursor"
CHANGE_CURSOR = "change_cursor"
IDENTITY = "identity"
LAST_RUN = "last_run"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class LockedError(StateError):
    code = "Sincro.StateLocked"


class SincroState:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the state folder {path.parent}: {exc.strerror}"
            ) from None
        self._engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self._engine, "connect", _pragmas)
        try:
            metadata.create_all(self._engine)
        except DBAPIError as exc:
            raise StateError(f"cannot use the state file {path}: {exc.orig}") from None
        self._lock_file: Any = None

    def close(self) -> None:
        self._engine.dispose()

    # --- the one-run-at-a-time lock -------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = lock_path.open("a+")
        try:
            try:
                _lock(handle)
            except OSError:
                raise LockedError(
                    f"another run of the agent holds {lock_path}; wait for it to finish"
                ) from None
            yield
        finally:
            handle.close()  # closing releases the lock

    # --- identity ---------------------------------------------------------------

    def claim(self, instance: str) -> None:
        """Bind the file to one instance: another instance's cursor or checksums
        would silently skip changes. (The server's address may change: a new
        proxy in front of the same server.)"""
        current = self.get(IDENTITY)
        if current is None:
            self.put(IDENTITY, json.dumps({"instance": instance}))
        elif json.loads(current)["instance"] != instance:
            held = json.loads(current)["instance"]
            raise StateError(
                f"the state file {self.path} belongs to instance {held}; give this "
                "configuration its own [state] path",
                field="state.path",
            )

    # --- meta -------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._engine.connect() as connection:
            return connection.execute(select(meta.c.value).where(meta.c.key == key)).scalar()

    def put(self, key: str, value: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(meta).where(meta.c.key == key))
            connection.execute(insert(meta).values(key=key, value=value))

    def change_cursor(self) -> object | None:
        stored = self.get(CHANGE_CURSOR)
        return None if stored is None else _decode(json.loads(stored))

    def set_change_cursor(self, value: object) -> None:
        self.put(CHANGE_CURSOR, json.dumps(_encode(value)))

    # --- rows ---------------------------------------------------------------------

    def known(self) -> dict[str, Known]:
        with self._engine.connect() as connection:
            return {
                r.app_lid: Known(r.checksum, r.app_date, r.resource_lid)
                for r in connection.execute(select(rows))
            }

    def record_sent(self, sent: Iterable[tuple[str, str, date, str]]) -> None:
        """(APP_LID, checksum, day, RESOURCE_LID) of rows the server accepted."""
        values = [
            {"app_lid": a, "checksum": c, "app_date": d, "resource_lid": r, "sent_at": _now()}
            for a, c, d, r in sent
        ]
        if not values:
            return
        with self._engine.begin() as connection:
            connection.execute(
                delete(rows).where(rows.c.app_lid.in_([v["app_lid"] for v in values]))
            )
            connection.execute(insert(rows), values)

    def mark_stale(self, app_lids: Iterable[str]) -> None:
        lids = list(app_lids)
        if lids:
            with self._engine.begin() as connection:
                connection.execute(
                    update(rows).where(rows.c.app_lid.in_(lids)).values(checksum=None)
                )

    def forget(self, app_lids: Iterable[str]) -> None:
        lids = list(app_lids)
        if lids:
            with self._engine.begin() as connection:
                connection.execute(delete(rows).where(rows.c.app_lid.in_(lids)))

    # --- resources ------------------------------------------------------------------

    def resource_checksums(self) -> dict[str, str]:
        with self._engine.connect() as connection:
            return {r.resource_lid: r.checksum for r in connection.execute(select(resources))}

    def set_resource_checksums(self, checksums: Mapping[str, str]) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(resources))
            if checksums:
                connection.execute(
                    insert(resources),
                    [{"resource_lid": k, "checksum": v} for k, v in checksums.items()],
                )

    # --- cancellations written into TT_DELETE_RESERVATION ---------------------------

    def delivered(self, app_tmp_ids: Iterable[str]) -> set[str]:
        ids = list(app_tmp_ids)
        if not ids:
            return set()
        with self._engine.connect() as connection:
            return set(
                connection.execute(
                    select(deliveries.c.app_tmp_id).where(deliveries.c.app_tmp_id.in_(ids))
                ).scalars()
            )

    def record_delivered(self, delivered: Iterable[tuple[str, str]]) -> None:
        """(APP_TMP_ID, APP_LID) now in TT_DELETE_RESERVATION."""
        values = [
            {"app_tmp_id": t, "app_lid": a, "delivered_at": _now(), "active": 1}
            for t, a in delivered
        ]
        if values:
            with self._engine.begin() as connection:
                connection.execute(
                    delete(deliveries).where(
                        deliveries.c.app_tmp_id.in_([v["app_tmp_id"] for v in values])
                    )
                )
                connection.execute(insert(deliveries), values)

    def patient_cancelled(self) -> set[str]:
        with self._engine.connect() as connection:
            return set(
                connection.execute(
                    select(deliveries.c.app_lid).where(deliveries.c.active == 1)
                ).scalars()
            )

    def reinstated(self, app_lids: Iterable[str]) -> None:
        lids = list(app_lids)
        if lids:
            with self._engine.begin() as connection:
                connection.execute(
                    update(deliveries).where(deliveries.c.app_lid.in_(lids)).values(active=0)
                )

    # --- status ---------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as connection:
            sent = connection.execute(select(rows.c.checksum)).scalars().all()
            delivered = connection.execute(select(deliveries.c.app_tmp_id)).scalars().all()
        return {
            "rows": len(sent),
            "stale": sum(1 for c in sent if c is None),
            "cancellations_delivered": len(delivered),
        }


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Survives a power cut between runs; one writer, so WAL buys nothing here.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _lock(handle: Any) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _encode(value: object) -> dict[str, str]:
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool):
        raise StateError("a change column cannot be a flag", field="clinic.change_column")
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, Decimal | float):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, bytes):  # SQL Server rowversion
        return {"type": "bytes", "value": value.hex()}
    return {"type": "text", "value": str(value)}


def _decode(stored: Mapping[str, str]) -> object:
    kind, value = stored["type"], stored["value"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "bytes":
        return bytes.fromhex(value)
    return value
