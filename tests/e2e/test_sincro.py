"""The Sincro agent end to end (guide A.2): a clinic's database on a real MariaDB
or PostgreSQL, built from ``examples/sincro/`` (its agenda, the two views, the
cancellations table and the example trigger); the agent run as its own process
(``tuotempo-soap sincro run``) with a read-only database user, against a real
gunicorn server; a patient's SMS "NO" coming back into TT_DELETE_RESERVATION
and the trigger cancelling the appointment in the clinic's own table.

MariaDB: 127.0.0.1:3306 as root without a password (or TUOTEMPO_TEST_MARIADB_URL);
skipped when unreachable unless TUOTEMPO_REQUIRE_MARIADB=1. PostgreSQL: the
server of TUOTEMPO_TEST_DATABASE_URL. Each test gets a scratch database and
user, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from tests.conftest import PG_ENV, Credentials, make_instance
from tests.e2e.conftest import ROOT, _free_port, start_gunicorn, stop_process
from tests.e2e.peers import SECRETS, SmsGateway, SmtpServer, senders_config
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store, normalise_url

pytestmark = pytest.mark.e2e

MADRID = ZoneInfo("Europe/Madrid")
EXAMPLES = ROOT / "examples" / "sincro"
MARIADB_ENV = "TUOTEMPO_TEST_MARIADB_URL"
MARIADB_DEFAULT = "mysql+pymysql://root@127.0.0.1:3306/"
RULES = {
    "offsets_hours": [24],
    "quiet_start": "21:00",
    "quiet_end": "09:00",
    "clinic_name": "Clinica Sol",
    "clinic_phone": "910000000",
}
# Madrid's today on this machine; the appointments are the day after tomorrow,
# and everyone's clock (server, worker, agent) reads tomorrow 11:00, when the
# 24-hour reminders of the morning's appointments are due. The views' window
# follows the database's real date, which the day after tomorrow is well inside.
TODAY = datetime.now(MADRID).date()
DAY = TODAY + timedelta(days=2)
NOW = datetime.combine(TODAY + timedelta(days=1), datetime.min.time().replace(hour=11))
DOCTORS = [
    # id, first name, last name, site, site name, reminders (in TT_RESOURCES)
    (1, "Ana", "Rossi", "C1", "Centro", 1),
    (2, "Luis", "Gomez", "C2", "Norte", 1),
    (3, "Eva", "Marin", "C1", "Centro", 0),
]


def phone(appointment_id: int) -> str:
    return f"611000{appointment_id:03d}"


# --- the server side -------------------------------------------------------------


@dataclass
class World:
    url: str
    env: dict[str, str]
    store: Store
    client: zeep.Client
    sms: SmsGateway

    @property
    def soap_url(self) -> str:
        return f"{self.url}/soap"

    def cli(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Any:
        return subprocess.run(
            [sys.executable, "-m", "tuotempo_soap.cli", *args],
            input=stdin,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )

    def new_instance(self) -> Credentials:
        who = make_instance(self.store)
        rules = self.cli("reminders", "rules", who.instance, "--set", "-", stdin=json.dumps(RULES))
        assert rules.returncode == 0, rules.stderr
        return who

    def reservations(self, who: Credentials) -> dict[str, Any]:
        page = self.client.service.getReservations(AUTH=who.auth(), MAX_RESULTS=500)
        assert not page.MORE_RESULTS
        rows = page.RESERVATIONS.RESERVATION if page.RESERVATIONS else []
        return {r.APP_LID: r for r in rows}

    def work(self) -> None:
        for _ in range(2):  # the first run queues, a second sends what was queued mid-run
            done = self.cli("worker", "--once")
            assert done.returncode == 0, done.stdout + done.stderr

    def reply(self, sender: str, message: str) -> dict[str, Any]:
        answer = requests.post(
            f"{self.url}/inbound/sms/sms-gw",
            data={"from": sender, "text": message},
            headers={"X-Receipt-Secret": SECRETS["TEST_SMS_RECEIPT_SECRET"]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("sincro-server")
    sms, smtp = SmsGateway(), SmtpServer()
    clock = workdir / "clock.txt"
    clock.write_text(NOW.replace(tzinfo=MADRID).isoformat())
    senders = workdir / "senders.json"
    senders.write_text(json.dumps(senders_config(sms, smtp)))
    port = _free_port()
    database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    extra = {
        **SECRETS,
        "TUOTEMPO_SENDERS_FILE": str(senders),
        "TUOTEMPO_CLOCK_FILE": str(clock),
        "TUOTEMPO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TUOTEMPO_SECRET_KEY": "test-secret-key-for-links",
        # Smaller than the agent's batches: the agent must halve them.
        "TUOTEMPO_MAX_BATCH_ITEMS": "5",
    }
    process, url, _ = start_gunicorn(database_url, workdir, extra, port=port)
    env = {
        **os.environ,
        **extra,
        "TUOTEMPO_DATABASE_URL": database_url,
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        yield World(url, env, store, zeep.Client(f"{url}/soap?wsdl"), sms)
    finally:
        stop_process(process)
        store.dispose()
        sms.close()
        smtp.close()


# --- the clinic's database ----------------------------------------------------------


@dataclass
class ClinicDb:
    kind: str  # mariadb | postgresql
    admin: Engine  # the clinic's own software: full rights on the scratch database
    agent_url: URL  # the agent's read-only user, without its password
    agent_password: str

    def execute(self, statement: str, **params: Any) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(statement), params)

    def rows(self, statement: str, **params: Any) -> list[Any]:
        with self.admin.connect() as connection:
            return list(connection.execute(text(statement), params))

    def day(self, value: date) -> object:
        # The MariaDB example keeps a decimal yyyymmdd day; PostgreSQL's a DATE.
        return int(value.strftime("%Y%m%d")) if self.kind == "mariadb" else value

    def load_agenda(self) -> None:
        for doctor in DOCTORS:
            self.execute(
                "INSERT INTO agenda_doctor (doctor_id, first_name, last_name, site_code, "
                "site_name, reminders) VALUES (:i, :f, :l, :s, :n, :r)",
                i=doctor[0],
                f=doctor[1],
                l=doctor[2],
                s=doctor[3],
                n=doctor[4],
                r=bool(doctor[5]) if self.kind == "postgresql" else doctor[5],
            )
            for slot in range(6):
                self.add_appointment(doctor[0] * 100 + slot + 1, doctor[0], 9 * 60 + slot * 30)

    def add_appointment(self, appointment_id: int, doctor_id: int, minutes: int) -> None:
        self.execute(
            "INSERT INTO agenda_appointment (appointment_id, doctor_id, day, start_time, "
            "end_time, patient_id, patient_name, mobile, language) VALUES "
            "(:a, :d, :day, :start, :end, :p, :name, :m, 'es')",
            a=appointment_id,
            d=doctor_id,
            day=self.day(DAY),
            start=f"{minutes // 60:02d}:{minutes % 60:02d}",
            end=f"{(minutes + 30) // 60:02d}:{(minutes + 30) % 60:02d}",
            p=f"P{appointment_id}",
            name=f"Paciente {appointment_id}",
            m=phone(appointment_id),
        )


def _mariadb_server() -> URL:
    url = make_url(os.environ.get(MARIADB_ENV) or MARIADB_DEFAULT)
    probe = create_engine(url)
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = f"MariaDB not reachable at {url.render_as_string()}: {exc.orig}"
        if os.environ.get("TUOTEMPO_REQUIRE_MARIADB"):
            pytest.fail(f"TUOTEMPO_REQUIRE_MARIADB is set but {reason}")
        pytest.skip(reason)
    finally:
        probe.dispose()
    return url


def _run_script(command: list[str], script: Path) -> None:
    done = subprocess.run(command, stdin=script.open("rb"), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()


def _mariadb_clinic() -> Iterator[ClinicDb]:
    server = _mariadb_server()
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.fail("the mariadb command-line client is needed to load examples/sincro/mariadb.sql")
    name = f"sincro_{os.getpid()}_{secrets.token_hex(3)}"
    user, password = f"sincro_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    root = create_engine(server, isolation_level="AUTOCOMMIT")
    with root.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    try:
        command = [client, f"--host={server.host}", f"--port={server.port or 3306}"]
        command += [f"--user={server.username}", f"--password={server.password or ''}", name]
        _run_script(command, EXAMPLES / "mariadb.sql")
        with root.connect() as connection:
            # Exactly the rights section 5 of the example grants.
            connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
            for grant in (
                f"GRANT SELECT ON {name}.TT_RESOURCES TO '{user}'@'%'",
                f"GRANT SELECT ON {name}.TT_RESERVATIONS TO '{user}'@'%'",
                f"GRANT SELECT, INSERT ON {name}.TT_DELETE_RESERVATION TO '{user}'@'%'",
            ):
                connection.execute(text(grant))
        admin = create_engine(server.set(database=name))
        agent = server.set(drivername="mysql+pymysql", username=user, password=None, database=name)
        clinic = ClinicDb("mariadb", admin, agent, password)
        yield clinic
        admin.dispose()
    finally:
        with root.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        root.dispose()


def _postgres_clinic() -> Iterator[ClinicDb]:
    configured = os.environ.get(PG_ENV)
    if not configured:
        if os.environ.get("TUOTEMPO_REQUIRE_POSTGRES"):
            pytest.fail(f"TUOTEMPO_REQUIRE_POSTGRES is set but {PG_ENV} is not")
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV}")
    if shutil.which("psql") is None:
        pytest.fail("psql is needed to load examples/sincro/postgresql.sql")
    server = make_url(normalise_url(configured))
    name = f"sincro_{os.getpid()}_{secrets.token_hex(3)}"
    user, password = f"sincro_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    root = create_engine(server, isolation_level="AUTOCOMMIT")
    with root.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        connection.execute(text(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'"))
    try:
        target = server.set(database=name)
        libpq = target.set(drivername="postgresql").render_as_string(hide_password=False)
        _run_script(["psql", libpq, "-q", "-v", "ON_ERROR_STOP=1"], EXAMPLES / "postgresql.sql")
        admin = create_engine(target)
        with admin.begin() as connection:
            connection.execute(text(f"GRANT SELECT ON tt_resources, tt_reservations TO {user}"))
            connection.execute(text(f"GRANT SELECT, INSERT ON tt_delete_reservation TO {user}"))
        agent = target.set(username=user, password=None)
        yield ClinicDb("postgresql", admin, agent, password)
        admin.dispose()
    finally:
        with root.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f"DROP ROLE IF EXISTS {user}"))
        root.dispose()


@pytest.fixture(
    params=[
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def clinic(request: pytest.FixtureRequest) -> Iterator[ClinicDb]:
    if request.param == "mariadb":
        yield from _mariadb_clinic()
    else:
        yield from _postgres_clinic()


# --- the agent ----------------------------------------------------------------------------


@dataclass
class Agent:
    world: World
    config: Path
    env: dict[str, str]

    def run(self, *args: str) -> Any:
        return self.world.cli("sincro", *args, "--config", str(self.config), env=self.env)

    def once(self) -> Any:
        done = self.run("run", "--once")
        assert done.returncode == 0, done.stdout + done.stderr
        return done


def write_config(
    path: Path, world: World, who: Credentials, clinic: ClinicDb, **extra: str
) -> Path:
    agent_url = clinic.agent_url.render_as_string(hide_password=False)
    lines = [
        "[server]",
        f'url = "{extra.get("url", world.soap_url)}"',
        f'instance = "{who.instance}"',
        f'username = "{who.username}"',
        "batch_size = 8",
        "",
        "[clinic]",
        f'database_url = "{agent_url}"',
        'timezone = "Europe/Madrid"',
        f'reservations_view = "{extra.get("view", "TT_RESERVATIONS")}"',
    ]
    if clinic.kind == "mariadb":
        # The example's decimal days, and its change column.
        lines += ['change_column = "LAST_CHANGE"', "", "[formats]", 'APP_DATE = "yyyymmdd"']
    else:
        # The example passes the agenda's own status codes.
        lines += [
            "",
            "[status]",
            'BOOKED = "APPROVED"',
            'CANCELLED = "CANCELLED by ADMIN"',
            'CANCELLED_BY_PATIENT = "CANCELLED by USER"',
        ]
    lines += ["", "[state]", f'path = "{extra.get("state", "state.db")}"']
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def agent(world: World, clinic: ClinicDb, tmp_path: Path) -> tuple[Agent, Credentials]:
    who = world.new_instance()
    clinic.load_agenda()
    config = write_config(tmp_path / "sincro.toml", world, who, clinic)
    env = {
        "TUOTEMPO_SINCRO_PASSWORD": who.password,
        "TUOTEMPO_SINCRO_DATABASE_PASSWORD": clinic.agent_password,
    }
    return Agent(world, config, env), who


def summary(done: Any) -> dict[str, int]:
    """The counts of ``sincro: read 12, unchanged 0, sent 12, ...``."""
    line = next(x for x in done.stdout.splitlines() if x.startswith("sincro: read"))
    counts = {}
    for part in line.removeprefix("sincro: ").replace(";", ",").split(","):
        words = part.split()
        counts["_".join(words[:-1])] = int(words[-1])
    return counts


# --- the tests ---------------------------------------------------------------------------


def test_a_days_agenda_changes_deletions_and_a_patients_no(
    world: World, clinic: ClinicDb, agent: tuple[Agent, Credentials]
) -> None:
    sincro, who = agent
    published = {str(d * 100 + s) for d in (1, 2) for s in range(1, 7)}

    # The first run sends the day: doctor 3 is not in TT_RESOURCES, so not hers.
    first = sincro.once()
    assert summary(first)["sent"] == 12 and summary(first)["refused"] == 0, first.stdout
    # The server takes 5 per call: the agent halved its batches of 8 down to 4.
    assert "sending 4 at a time" in first.stderr
    rows = world.reservations(who)
    assert set(rows) == published
    ana = rows["102"]
    assert DAY.strftime("%d/%m/%Y") == ana.APP_DATE
    assert (ana.APP_START_TIME, ana.APP_END_TIME) == ("09:30", "10:00")
    assert ana.RESOURCE_NAME == "Ana Rossi" and ana.LOCATION_NAME == "Centro"
    assert ana.LOCATION_LID == "C1" and rows["201"].LOCATION_NAME == "Norte"
    assert ana.USER_MOBILE_PHONE == "+34611000102" and ana.STATUS == "APPROVED"
    assert ana.USER_FIRST_NAME is None  # names stay at the clinic (A.2.2)
    assert "Paciente" not in first.stdout + first.stderr

    # Nothing changed: nothing sent (a new process: the state file was kept).
    quiet = summary(sincro.once())
    assert quiet["sent"] == 0, quiet
    if clinic.kind == "mariadb":
        # By its change column, only the rows of the last instant read are read again.
        assert 1 <= quiet["read"] < 18, quiet
    else:
        assert quiet["read"] == 18 and quiet["unchanged"] == 12, quiet
    assert quiet["read"] == quiet["unchanged"] + quiet["not_in_TT_RESOURCES"]

    # At the clinic: one appointment moved, one deleted, one unreadable or refused.
    clinic.execute(
        "UPDATE agenda_appointment SET start_time = '12:30', end_time = '13:00' "
        "WHERE appointment_id = 105"
    )
    clinic.execute("DELETE FROM agenda_appointment WHERE appointment_id = 106")
    clinic.add_appointment(107, 1, 13 * 60)
    if clinic.kind == "mariadb":
        clinic.execute(
            "UPDATE agenda_appointment SET start_time = '25:99' WHERE appointment_id = 107"
        )
    else:
        clinic.execute(
            "UPDATE agenda_appointment SET state = 'WAITLIST' WHERE appointment_id = 107"
        )
    changes = sincro.once()
    counts = summary(changes)
    assert counts["deleted_(sent_as_cancelled)"] == 1 and counts["sent"] == 2, changes.stderr
    assert counts["unreadable" if clinic.kind == "mariadb" else "refused"] == 1
    # Logged by APP_LID and field, never by value.
    field_at_fault = "APP_START_TIME" if clinic.kind == "mariadb" else "STATUS"
    assert "reservation 107" in changes.stderr and field_at_fault in changes.stderr
    for secret in (phone(107), "Paciente", "25:99", "WAITLIST"):
        assert secret not in changes.stdout + changes.stderr
    rows = world.reservations(who)
    assert rows["105"].APP_START_TIME == "12:30" and rows["105"].STATUS == "APPROVED"
    deleted = rows["106"]
    assert deleted.STATUS == "CANCELLED by ADMIN" and deleted.STATUS_CHANGED_BY == "HIS"
    # Sent from the server's own copy: the patient can still be told.
    assert deleted.USER_MOBILE_PHONE == "+34611000106" and deleted.APP_START_TIME == "11:30"
    assert "107" not in rows

    # The refused row is tried again at every run, until the clinic mends it.
    retried = sincro.once()
    assert "reservation 107" in retried.stderr
    clinic.execute(
        "UPDATE agenda_appointment SET start_time = '13:00', state = 'BOOKED' "
        "WHERE appointment_id = 107"
    )
    mended = summary(sincro.once())
    assert mended["sent"] == 1 and mended["refused"] + mended["unreadable"] == 0
    assert world.reservations(who)["107"].APP_START_TIME == "13:00"

    # Tomorrow 11:00: the morning's reminders go out; the patient of 104 answers NO.
    world.work()
    assert any(m["to"] == "+34611000104" for m in world.sms.accepted.values())
    assert world.reply("+34611000104", "NO")["result"] == "cancelled"
    assert world.reservations(who)["104"].STATUS == "CANCELLED by USER"

    home = sincro.once()
    assert summary(home)["patient_cancellations_written"] == 1, home.stdout
    (written,) = clinic.rows(
        "SELECT app_tmp_id, app_lid, user_mobile_phone, app_status, status_trigger, insert_time "
        "FROM TT_DELETE_RESERVATION"
        if clinic.kind == "mariadb"
        else "SELECT app_tmp_id, app_lid, user_mobile_phone, app_status, status_trigger, "
        "insert_time FROM tt_delete_reservation"
    )
    assert written.app_lid == "104" and len(written.app_tmp_id) == 10
    assert written.user_mobile_phone == "+34611000104"
    assert (written.app_status, written.status_trigger) == ("CANCELLED_BY_PATIENT", "OK")
    assert written.insert_time.date() == NOW.date()  # the clinic's wall clock
    # The example trigger cancelled it in the clinic's own table...
    assert clinic.rows("SELECT state FROM agenda_appointment WHERE appointment_id = 104") == [
        ("CANCELLED_BY_PATIENT",)
    ]
    # ...and the row read back cancelled kept the patient's word on the server.
    back = world.reservations(who)["104"]
    assert back.STATUS == "CANCELLED by USER" and back.STATUS_CHANGED_BY == "PATIENT"
    assert back.PATIENT_ANSWER == "CANCELLED" and back.PATIENT_ANSWER_CHANNEL == "SMS"

    # Read again, nothing is written twice, nothing sent again.
    settled = summary(sincro.once())
    assert settled["patient_cancellations_written"] == 0 and settled["sent"] == 0
    assert len(clinic.rows("SELECT app_lid FROM TT_DELETE_RESERVATION")) == 1

    status = sincro.run("status", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["rows"] == 12 and state["stale"] == 0 and state["cancellations_delivered"] == 1
    assert state["server_cursor"] and "#" in state["server_cursor"]
    assert (state["change_cursor"] is not None) == (clinic.kind == "mariadb")


def test_failures_say_what_failed_and_exit_with_its_code(
    world: World, clinic: ClinicDb, agent: tuple[Agent, Credentials], tmp_path: Path
) -> None:
    sincro, who = agent
    check = sincro.run("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "TT_RESERVATIONS: 18 rows" in check.stdout and "answers" in check.stdout

    wrong = sincro.world.cli(
        "sincro", "run", "--once", "--config", str(sincro.config),
        env={**sincro.env, "TUOTEMPO_SINCRO_PASSWORD": "not-the-password"},
    )  # fmt: skip
    assert wrong.returncode == 4 and "Client.AuthenticationFailed" in wrong.stderr

    down = write_config(
        tmp_path / "down.toml", world, who, clinic, url=f"http://127.0.0.1:{_free_port()}/soap"
    )
    gone = sincro.world.cli("sincro", "run", "--once", "--config", str(down), env=sincro.env)
    assert gone.returncode == 4 and "could not connect" in gone.stderr

    no_view = write_config(tmp_path / "view.toml", world, who, clinic, view="TT_APPOINTMENTS")
    missing = sincro.world.cli("sincro", "run", "--once", "--config", str(no_view), env=sincro.env)
    assert missing.returncode == 3, missing.stderr
    assert "TT_APPOINTMENTS is not a view or table" in missing.stderr
    assert "Traceback" not in wrong.stderr + gone.stderr + missing.stderr

    # A state file remembers whose it is.
    sincro.once()
    other = world.new_instance()
    reused = write_config(tmp_path / "other.toml", world, other, clinic, state="state.db")
    refused = sincro.world.cli(
        "sincro", "run", "--once", "--config", str(reused),
        env={**sincro.env, "TUOTEMPO_SINCRO_PASSWORD": other.password},
    )  # fmt: skip
    assert refused.returncode == 1 and f"belongs to instance {who.instance}" in refused.stderr


def test_the_loop_runs_at_its_interval_and_stops_on_sigterm(
    world: World, clinic: ClinicDb, agent: tuple[Agent, Credentials]
) -> None:
    sincro, _who = agent
    bounded = sincro.run("run", "--interval", "1", "--max-runs", "2")
    assert bounded.returncode == 0, bounded.stderr
    assert bounded.stdout.count("sincro: read") == 2
    assert "stopped after 2 run(s), 0 failed" in bounded.stdout

    process = subprocess.Popen(
        [sys.executable, "-m", "tuotempo_soap.cli", "sincro", "run", "--interval", "600"],
        cwd=ROOT,
        env={**world.env, **sincro.env, "TUOTEMPO_SINCRO_CONFIG": str(sincro.config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # The first run's summary, then the wait for the next interval.
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no run finished"
        assert process.stdout.readline().startswith("sincro: read")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert "stopped after 1 run(s), 0 failed" in out
