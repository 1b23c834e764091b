"""The clinic's database, as the agent sees it: two views to read
(TT_RESOURCES, TT_RESERVATIONS) and one table to write (TT_DELETE_RESERVATION).

Names are matched without regard to case (PostgreSQL folds unquoted names to
lower case, SQL Server and MariaDB keep what was written), and only the
guide's columns are read: a view may carry more. Any SQLAlchemy URL works;
the drivers shipped are PyMySQL (``mysql+pymysql://``) and psycopg2
(``postgresql://``); SQL Server needs the ``sqlserver`` extra (pyodbc,
``mssql+pyodbc://``).

The agent's database user needs SELECT on the two views and SELECT and
INSERT on TT_DELETE_RESERVATION, nothing else. Errors become the agent's
here, in one place; their text is redacted (no phone numbers or e-mail
addresses, even from a trigger's own message).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    column,
    create_engine,
    false,
    insert,
    inspect,
    literal_column,
    select,
    table,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.sql.expression import Select, TableClause

from ..clinic.errors import redact
from ..domain.reservation import FIELD_NAMES
from .config import ClinicSection
from .errors import ClinicDatabaseError, ClinicDatabaseUnavailableError, SincroConfigError
from .rows import RESOURCE_FIELDS

CHANGE = "__change__"
DELETE_FIELDS = (
    "APP_TMP_ID",
    "APP_LID",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "APP_STATUS",
    "STATUS_TRIGGER",
    "INSERT_TIME",
)
_REQUIRED = {
    "resources": ("RESOURCE_LID",),
    "reservations": ("APP_LID", "APP_DATE", "RESOURCE_LID"),
    "delete": ("APP_TMP_ID", "APP_LID", "INSERT_TIME"),
}
# Rows per IN (...) list: well within every engine's parameter limit
# (SQL Server's is 2,100).
_CHUNK = 500
_STREAM = 1000


@dataclass(frozen=True)
class Relation:
    """A view or table as found: its real name and our column -> its column."""

    title: str  # the configured name, for messages
    clause: TableClause
    columns: Mapping[str, str]

    def col(self, name: str) -> Any:
        return self.clause.c[self.columns[name]]

    def has(self, name: str) -> bool:
        return name in self.columns


class ClinicDatabase:
    def __init__(self, url: URL, clinic: ClinicSection) -> None:
        self._url = url
        self._clinic = clinic
        self._engine: Engine | None = None
        self._relations: dict[str, Relation] = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = create_engine(self._url, pool_pre_ping=True, pool_size=1)
            except NoSuchModuleError:
                raise SincroConfigError(
                    f"no database driver for {self._url.drivername}; for SQL Server install "
                    "tuotempo-soap[sqlserver]",
                    field="clinic.database_url",
                ) from None
            except (ImportError, SQLAlchemyError) as exc:
                raise SincroConfigError(
                    f"clinic.database_url: {type(exc).__name__}: {exc}",
                    field="clinic.database_url",
                ) from None
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._relations.clear()

    @contextmanager
    def _connection(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        where = self._url.render_as_string(hide_password=True)
        try:
            connection = self.engine.connect()
        except DBAPIError as exc:
            raise ClinicDatabaseUnavailableError(
                f"cannot connect to the clinic database {where}: {_reason(exc)}"
            ) from None
        try:
            with connection:
                if write:
                    with connection.begin():
                        yield connection
                else:
                    yield connection
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise ClinicDatabaseUnavailableError(
                    f"lost the clinic database while {what}: {_reason(exc)}"
                ) from None
            raise ClinicDatabaseError(f"{what}: {_reason(exc)}") from None

    # --- finding the views ------------------------------------------------------

    def relation(self, kind: str) -> Relation:
        found = self._relations.get(kind)
        if found is None:
            found = self._relations[kind] = self._find(kind)
        return found

    def _find(self, kind: str) -> Relation:
        clinic = self._clinic
        configured = {
            "resources": clinic.resources_view,
            "reservations": clinic.reservations_view,
            "delete": clinic.delete_table,
        }[kind]
        wanted = {
            "resources": RESOURCE_FIELDS,
            "reservations": (*FIELD_NAMES, *(c for c in [clinic.change_column] if c)),
            "delete": DELETE_FIELDS,
        }[kind]
        schema = clinic.schema_name
        with self._connection(f"looking for {configured}") as connection:
            inspector = inspect(connection)
            names = [
                *inspector.get_view_names(schema=schema),
                *inspector.get_table_names(schema=schema),
            ]
            real = next((n for n in names if n.lower() == configured.lower()), None)
            if real is None:
                place = f"schema {schema}" if schema else "the database's default schema"
                raise ClinicDatabaseError(
                    f"{configured} is not a view or table in {place} (or the agent's user "
                    "may not see it)",
                    field=configured,
                )
            # The columns as a query sees them: reflecting a view's definition
            # (SHOW CREATE VIEW on MariaDB) needs more than the SELECT right.
            probe: Select[Any] = select(literal_column("*")).select_from(table(real, schema=schema))
            keys = connection.execute(probe.where(false())).keys()
            found = {str(name).upper(): str(name) for name in keys}
        columns = {name: found[name.upper()] for name in wanted if name.upper() in found}
        required = list(_REQUIRED[kind])
        if kind == "reservations" and clinic.change_column:
            required.append(clinic.change_column)
        missing = [name for name in required if name.upper() not in found]
        if missing:
            raise ClinicDatabaseError(
                f"{configured} has no column {', '.join(missing)}", field=missing[0]
            )
        clause = table(real, *(column(c) for c in columns.values()), schema=schema)
        return Relation(configured, clause, columns)

    # --- reading ----------------------------------------------------------------

    def resources(self) -> list[dict[str, object]]:
        view = self.relation("resources")
        with self._connection(f"reading {view.title}") as connection:
            result = connection.execute(select(*(view.col(n) for n in view.columns)))
            return [_guide_row(view, row) for row in result.mappings()]

    def reservations(
        self, *, since: object | None = None, app_lids: Sequence[str] | None = None
    ) -> Iterator[dict[str, object]]:
        """Rows of TT_RESERVATIONS: all, those whose change column is at or after
        ``since`` (at: rows written in the same instant as the last one read
        are read again; their checksums tell), or those with these APP_LIDs."""
        view = self.relation("reservations")
        change = self._clinic.change_column
        query = select(*(view.col(n) for n in view.columns))
        if app_lids is not None:
            for start in range(0, len(app_lids), _CHUNK):
                chunk = list(app_lids[start : start + _CHUNK])
                yield from self._stream(view, query.where(view.col("APP_LID").in_(chunk)))
            return
        if since is not None and change:
            query = query.where(view.col(change) >= since)
        yield from self._stream(view, query)

    def _stream(self, view: Relation, query: Any) -> Iterator[dict[str, object]]:
        with self._connection(f"reading {view.title}") as connection:
            result = connection.execution_options(stream_results=True, yield_per=_STREAM).execute(
                query
            )
            for row in result.mappings():
                yield _guide_row(view, row, self._clinic.change_column)

    def reservation_keys(self) -> dict[str, str]:
        """APP_LID -> RESOURCE_LID of every row in the view (deletions show here)."""
        view = self.relation("reservations")
        query = select(view.col("APP_LID"), view.col("RESOURCE_LID"))
        keys: dict[str, str] = {}
        with self._connection(f"reading {view.title}") as connection:
            result = connection.execution_options(stream_results=True, yield_per=_STREAM).execute(
                query
            )
            for app_lid, resource_lid in result:
                if app_lid is not None:
                    keys[str(app_lid).strip()] = str(resource_lid or "").strip()
        return keys

    # --- writing cancellations ----------------------------------------------------

    def write_cancellations(self, rows: Iterable[Mapping[str, object]]) -> set[str]:
        """Insert the rows not there yet (by APP_TMP_ID) in one transaction; the
        clinic's trigger applies each. Returns every APP_TMP_ID now in the table."""
        pending = {str(r["APP_TMP_ID"]): r for r in rows}
        if not pending:
            return set()
        target = self.relation("delete")
        tmp_id = target.col("APP_TMP_ID")
        with self._connection(f"writing into {target.title}", write=True) as connection:
            there: set[str] = set()
            ids = list(pending)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                there.update(
                    str(v).strip()
                    for v in connection.execute(select(tmp_id).where(tmp_id.in_(chunk))).scalars()
                )
            values = [
                {target.columns[k]: v for k, v in row.items() if target.has(k)}
                for key, row in pending.items()
                if key not in there
            ]
            if values:
                connection.execute(insert(target.clause), values)
        return set(pending)


def _guide_row(view: Relation, row: Any, change: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {name: row[real] for name, real in view.columns.items()}
    if change:
        out[CHANGE] = out.pop(change, None)
    return out


def _reason(exc: DBAPIError) -> str:
    return redact(str(exc.orig) if exc.orig is not None else type(exc).__name__)
