"""The clinic's SQLite file: schema, connections and transactions.

Tables mirror the guide's B.1 views (centers, resources, activities,
insurances, their relations, TT_AVAILABILITIES) plus patients, appointments
and test results. Every call opens its own connection (sqlite3 connections
must not cross threads and gunicorn serves each request on a thread of its
own); writes take ``BEGIN IMMEDIATE`` so two bookings of one slot are
serialised rather than both seeing it free. Other processes may open the same
file (a test booking "at the desk" while the server runs): WAL mode lets them
read while one writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS centers (
    center_lid TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, address TEXT,
    phone TEXT, website_url TEXT
);
CREATE TABLE IF NOT EXISTS locations (
    location_lid TEXT PRIMARY KEY, center_lid TEXT NOT NULL REFERENCES centers,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
    resource_lid TEXT PRIMARY KEY, center_lid TEXT NOT NULL REFERENCES centers,
    first_name TEXT NOT NULL, second_name TEXT, location_lid TEXT REFERENCES locations
);
CREATE TABLE IF NOT EXISTS activities (
    activity_lid TEXT PRIMARY KEY, name TEXT NOT NULL, group_lid TEXT, group_name TEXT,
    duration_minutes INTEGER NOT NULL, price TEXT
);
CREATE TABLE IF NOT EXISTS resources_activities (
    resource_lid TEXT NOT NULL REFERENCES resources,
    activity_lid TEXT NOT NULL REFERENCES activities,
    PRIMARY KEY (resource_lid, activity_lid)
);
CREATE TABLE IF NOT EXISTS insurances (insurance_lid TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS insurances_activities (
    insurance_lid TEXT NOT NULL REFERENCES insurances,
    activity_lid TEXT NOT NULL REFERENCES activities,
    price TEXT,  -- NULL: the activity's own price
    PRIMARY KEY (insurance_lid, activity_lid)
);
CREATE TABLE IF NOT EXISTS insurances_resources (
    insurance_lid TEXT NOT NULL REFERENCES insurances,
    resource_lid TEXT NOT NULL REFERENCES resources,
    PRIMARY KEY (insurance_lid, resource_lid)
);
-- TT_AVAILABILITIES, column for column (days dd/mm/yyyy, times hh:mm, 0 = Sunday).
CREATE TABLE IF NOT EXISTS tt_availabilities (
    availability_lid TEXT PRIMARY KEY,
    r_working_day TEXT,
    r_start_time TEXT NOT NULL,
    r_end_time TEXT NOT NULL,
    r_start_day TEXT,
    r_end_day TEXT,
    resource_lid TEXT NOT NULL REFERENCES resources
);
CREATE TABLE IF NOT EXISTS patients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_lid TEXT UNIQUE,
    user_tid TEXT UNIQUE,
    first_name TEXT, second_name TEXT, third_name TEXT, gender TEXT, date_of_birth TEXT,
    mobile_phone TEXT, landline_phone TEXT, email TEXT, id_number TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS appointments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_lid TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('Confirmed', 'Cancelled')),
    app_date TEXT NOT NULL,  -- yyyy-mm-dd, so that text order is date order
    start_time TEXT NOT NULL,  -- hh:mm
    end_time TEXT NOT NULL,
    resource_lid TEXT NOT NULL REFERENCES resources,
    activity_lid TEXT NOT NULL REFERENCES activities,
    insurance_lid TEXT REFERENCES insurances,
    patient_id INTEGER NOT NULL REFERENCES patients,
    app_tid TEXT,
    origin TEXT NOT NULL,  -- web (addAppointment) or desk
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL  -- UTC, yyyy-mm-dd hh:mm:ss.ffffff
);
-- A last line of defence under the overlap check: one confirmed booking per start.
CREATE UNIQUE INDEX IF NOT EXISTS appointments_one_per_start
    ON appointments (resource_lid, app_date, start_time) WHERE status = 'Confirmed';
CREATE INDEX IF NOT EXISTS appointments_by_day ON appointments (app_date, resource_lid);
CREATE INDEX IF NOT EXISTS appointments_by_change ON appointments (modified_at);
CREATE TABLE IF NOT EXISTS test_results (
    download_lid TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('Valid', 'Cancelled')),
    download_code TEXT NOT NULL,
    filename TEXT,
    download_type TEXT NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patients,
    center_lid TEXT REFERENCES centers,
    result_date TEXT NOT NULL,  -- yyyy-mm-dd
    content BLOB
);
"""


class Database:
    """The clinic's SQLite file; one connection per unit of work."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so the kind of lock is ours.
        connection = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")
        return connection

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        connection = self._connect()
        try:
            connection.execute(begin)
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    def reading(self) -> AbstractContextManager[sqlite3.Connection]:
        """A consistent snapshot for reads spanning several queries."""
        return self._transaction("BEGIN DEFERRED")

    def writing(self) -> AbstractContextManager[sqlite3.Connection]:
        """Takes the write lock up front: the checks and the write see the same agenda."""
        return self._transaction("BEGIN IMMEDIATE")

    def create(self, seed: Callable[[sqlite3.Connection], None]) -> None:
        """Create the schema and seed it, once; safe when several processes start together."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = self._connect()
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        finally:
            connection.close()
        with self.writing() as connection:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            found = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            if found.fetchone() is None:
                seed(connection)
                connection.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )

    def ping(self) -> bool:
        try:
            with self.reading() as connection:
                connection.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True
