"""A HIS-side sync loop with zeep: push today's appointments, then read what changed.

    python his_sync.py http://127.0.0.1:8000/soap?wsdl tt_demo demo PASSWORD

Keep NEXT_REQUEST_TIMESTAMP between runs (here: a file) so each read returns
only what changed since the previous one, including patients' answers.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import zeep

CURSOR_FILE = Path("tuotempo_cursor.txt")


def main(wsdl: str, instance: str, username: str, password: str) -> None:
    client = zeep.Client(wsdl)
    auth = {"INSTANCE": instance, "USERNAME": username, "PASSWORD": password}
    today = date.today().strftime("%d/%m/%Y")
    pushed = client.service.updateReservations(
        AUTH=auth,
        RESERVATIONS={
            "RESERVATION": [
                {
                    "APP_LID": f"{today}-DR1-0900",
                    "APP_DATE": today,
                    "APP_START_TIME": "09:00",
                    "USER_MOBILE_PHONE": "612345678",
                    "RESOURCE_LID": "DR1",
                    "STATUS": "APPROVED",
                },
            ]
        },
    )
    print("push:", pushed.RESULT, [(i.APP_LID, i.RESULT, i.ACTION) for i in pushed.ITEMS.ITEM])

    cursor = CURSOR_FILE.read_text().strip() if CURSOR_FILE.exists() else None
    for _ in range(100):  # pages
        page = client.service.getReservations(AUTH=auth, LAST_REQUEST_TIMESTAMP=cursor)
        for r in page.RESERVATIONS.RESERVATION if page.RESERVATIONS else []:
            print("changed:", r.APP_LID, r.STATUS, r.PATIENT_ANSWER, r.PATIENT_ANSWER_CHANNEL)
        cursor = page.NEXT_REQUEST_TIMESTAMP
        if not page.MORE_RESULTS:
            break
    CURSOR_FILE.write_text(cursor or "")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
