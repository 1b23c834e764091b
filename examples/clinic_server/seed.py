"""The example clinic's starting data: three centers, two doctors each, an agenda.

Deterministic: the same "today" gives the same database. Only the test results
are dated relative to the day the database is created (they are "recent"), so
``RESULT_START_DATE`` filters have something on both sides.

What a vendor would read off it:

- centers ``C1``..``C3``; doctors ``C1-DR1``, ``C1-DR2``...; each doctor has a room
  (``LOCATION_LID`` ``C1-L1``...);
- activities ``VISIT`` (20 min), ``FOLLOWUP`` (15 min), ``ECO`` (30 min); ``DR1``
  doctors offer all three, ``DR2`` doctors only the two visits;
- insurances ``PRIVATE`` (every doctor, every activity, list price) and
  ``MEDIPLUS`` (``DR1`` doctors only, visits at a reduced price, no ``ECO``);
- weekly availabilities: ``DR1`` Monday to Friday 09:00-13:00 (``C1-DR1`` also
  Saturday 10:00-12:00 during 2020-2099), ``DR2`` Monday and Wednesday 15:00-19:00,
  Tuesday and Thursday 09:00-12:00;
- patients ``P000001`` (with platform id ``TT-1001``, three test results, one of
  them cancelled) and ``P000002``.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

CENTERS = [
    (
        "C1",
        "Clinica Centro",
        "General practice and diagnostics",
        "Calle Mayor 1, 28013 Madrid",
        "+34910000001",
        "https://c1.clinic.example",
    ),
    (
        "C2",
        "Clinica Norte",
        "General practice",
        "Avinguda Diagonal 200, 08018 Barcelona",
        "+34930000002",
        "https://c2.clinic.example",
    ),
    (
        "C3",
        "Clinica Sur",
        "General practice",
        "Calle Colon 10, 46004 Valencia",
        "+34960000003",
        None,
    ),
]

DOCTORS = {
    "C1": [("Ana", "Martinez"), ("Luis", "Fernandez")],
    "C2": [("Marta", "Puig"), ("Jordi", "Vila")],
    "C3": [("Carmen", "Soler"), ("Pablo", "Ruiz")],
}

ACTIVITIES = [
    ("VISIT", "First visit", "CONS", "Consultations", 20, "60.00"),
    ("FOLLOWUP", "Follow-up visit", "CONS", "Consultations", 15, "40.00"),
    ("ECO", "Ultrasound scan", "DIAG", "Diagnostics", 30, "90.00"),
]

INSURANCES = [("PRIVATE", "Private patient (self-pay)"), ("MEDIPLUS", "MediPlus Salud")]
MEDIPLUS_PRICES = {"VISIT": "25.00", "FOLLOWUP": "0.00"}

# (doctor number, R_WORKING_DAY 0 = Sunday, start, end, R_START_DAY, R_END_DAY)
WEEKLY = [
    *[(1, day, "09:00", "13:00", None, None) for day in range(1, 6)],
    (2, 1, "15:00", "19:00", None, None),
    (2, 3, "15:00", "19:00", None, None),
    (2, 2, "09:00", "12:00", None, None),
    (2, 4, "09:00", "12:00", None, None),
]
SATURDAY_C1 = ("C1-DR1", 6, "10:00", "12:00", "01/01/2020", "31/12/2099")

PATIENTS = [
    # user_lid, user_tid, first, second, gender, birth, mobile, email, id number
    (
        "P000001",
        "TT-1001",
        "Lucia",
        "Garcia",
        "F",
        "14/03/1985",
        "+34600111222",
        "lucia@example.org",
        "12345678Z",
    ),
    ("P000002", None, "Marco", "Rossi", "M", "02/11/1979", "+393331234567", None, "X1234567L"),
]

# download lid, status, code, filename, days before creation, center
TEST_RESULTS = [
    ("R0001", "Valid", "BT-7731", "blood-test.pdf", 2, "C1"),
    ("R0002", "Valid", "US-1204", "ultrasound-abdomen.pdf", 20, "C1"),
    ("R0003", "Cancelled", "XR-0042", "x-ray-chest.pdf", 5, "C2"),
]


def pdf_bytes(download_lid: str) -> bytes:
    """A tiny file that starts like a PDF; enough to prove bytes travel intact."""
    return (
        b"%PDF-1.4\n% tuotempo-soap example clinic, result "
        + download_lid.encode()
        + b"\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def seed(connection: sqlite3.Connection, today: date) -> None:
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection.executemany("INSERT INTO centers VALUES (?, ?, ?, ?, ?, ?)", CENTERS)
    connection.executemany("INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?)", ACTIVITIES)
    connection.executemany("INSERT INTO insurances VALUES (?, ?)", INSURANCES)
    for insurance_lid, _ in INSURANCES:
        for activity_lid, *_rest in ACTIVITIES:
            if insurance_lid == "PRIVATE" or activity_lid in MEDIPLUS_PRICES:
                connection.execute(
                    "INSERT INTO insurances_activities VALUES (?, ?, ?)",
                    (
                        insurance_lid,
                        activity_lid,
                        MEDIPLUS_PRICES.get(activity_lid) if insurance_lid == "MEDIPLUS" else None,
                    ),
                )
    for center_lid, doctors in DOCTORS.items():
        for number, (first, second) in enumerate(doctors, start=1):
            resource_lid = f"{center_lid}-DR{number}"
            location_lid = f"{center_lid}-L{number}"
            floor = "ground floor" if number == 1 else "first floor"
            connection.execute(
                "INSERT INTO locations VALUES (?, ?, ?)",
                (location_lid, center_lid, f"Room {number} ({floor})"),
            )
            connection.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?)",
                (resource_lid, center_lid, first, second, location_lid),
            )
            offered = ["VISIT", "FOLLOWUP", "ECO"] if number == 1 else ["VISIT", "FOLLOWUP"]
            connection.executemany(
                "INSERT INTO resources_activities VALUES (?, ?)",
                [(resource_lid, activity_lid) for activity_lid in offered],
            )
            accepted = ["PRIVATE", "MEDIPLUS"] if number == 1 else ["PRIVATE"]
            connection.executemany(
                "INSERT INTO insurances_resources VALUES (?, ?)",
                [(insurance_lid, resource_lid) for insurance_lid in accepted],
            )
            rules = [rule for rule in WEEKLY if rule[0] == number]
            for index, (_, day, start, end, first_day, last_day) in enumerate(rules, start=1):
                connection.execute(
                    "INSERT INTO tt_availabilities VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        f"{resource_lid}-W{index}",
                        str(day),
                        start,
                        end,
                        first_day,
                        last_day,
                        resource_lid,
                    ),
                )
    resource_lid, day, start, end, first_day, last_day = SATURDAY_C1
    connection.execute(
        "INSERT INTO tt_availabilities VALUES (?, ?, ?, ?, ?, ?, ?)",
        (f"{resource_lid}-SAT", str(day), start, end, first_day, last_day, resource_lid),
    )
    for user_lid, user_tid, first, second, gender, birth, mobile, email, id_number in PATIENTS:
        connection.execute(
            "INSERT INTO patients (user_lid, user_tid, first_name, second_name, gender,"
            " date_of_birth, mobile_phone, email, id_number, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (user_lid, user_tid, first, second, gender, birth, mobile, email, id_number, created),
        )
    owner = connection.execute("SELECT id FROM patients WHERE user_lid = 'P000001'").fetchone()[0]
    for download_lid, status, code, filename, days_ago, center_lid in TEST_RESULTS:
        connection.execute(
            "INSERT INTO test_results VALUES (?, ?, ?, ?, 'pdf', ?, ?, ?, ?)",
            (
                download_lid,
                status,
                code,
                filename,
                owner,
                center_lid,
                (today - timedelta(days=days_ago)).isoformat(),
                pdf_bytes(download_lid),
            ),
        )
