"""``reservations search`` and ``messages search``: an operator's questions
("the patient on 612 345 678 says...") answered one line per hit, masked by
default, as JSON for scripts, a page at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from tests.integration.cli.conftest import Run
from tuotempo_soap.services import instances, messages, reservations
from tuotempo_soap.store.engine import Store

Fresh = Callable[..., instances.Instance]
PHONE = "+34612345678"
OTHER_PHONE = "+34699111222"


def _book(store: Store, target: instances.Instance) -> dict[str, int]:
    """Five reservations; returns RESERVATION_IDs by APP_LID."""
    rows = [
        {"APP_LID": "A1", "APP_DATE": "01/03/2027", "USER_MOBILE_PHONE": "612 345 678"},
        {"APP_LID": "A2", "APP_DATE": "02/03/2027", "USER_EMAIL": "Ana.Garcia@Example.com"},
        {
            "APP_LID": "A3",
            "APP_DATE": "03/03/2027",
            "USER_MOBILE_PHONE": "699111222",
            "STATUS": "CANCELLED by USER",
        },
        {"APP_LID": "A4", "APP_DATE": "10/03/2027", "RESOURCE_LID": "DR-2"},
        {"APP_LID": "A5", "APP_DATE": "11/03/2027", "USER_LANDLINE_PHONE": "0034 612-345-678"},
    ]
    items = [{"RESOURCE_LID": "DR-1", "APP_START_TIME": "09:30", **row} for row in rows]
    outcome = reservations.update_reservations(store, target, items, max_items=10)
    return {item.app_lid: int(item.reservation_id) for item in outcome.items}  # type: ignore[arg-type]


@pytest.fixture
def booked(store: Store, fresh: Fresh) -> tuple[instances.Instance, dict[str, int]]:
    target = fresh()
    ids = _book(store, target)
    _book(store, fresh())  # another instance: the same patients, never shown
    return target, ids


def _lids(output: str) -> list[str]:
    return [line.split("\t")[1] for line in output.splitlines()]


def test_a_phone_number_in_any_spelling_finds_the_patients_reservations(
    run: Run, booked: tuple[instances.Instance, dict[str, int]]
) -> None:
    target, _ = booked
    for spelling in ("612345678", "+34 612 345 678", "0034-612-345-678"):
        found = run("reservations", "search", "--instance", target.name, "--patient", spelling)
        assert found.exit_code == 0, found.output
        assert _lids(found.stdout) == ["A5", "A1"]  # newest first; mobile and landline
    line = found.stdout.splitlines()[1]
    assert "+34 6** ** ** 78" in line and PHONE not in found.stdout
    assert "01/03/2027 09:30" in line and "DR-1" in line and "no answer" in line

    unmasked = run(
        "reservations", "search", "--instance", target.name, "--patient", "612345678", "--unmasked"
    )
    assert PHONE in unmasked.stdout


def test_each_filter_narrows_the_search(
    run: Run, booked: tuple[instances.Instance, dict[str, int]]
) -> None:
    target, ids = booked

    def lids(*options: str) -> list[str]:
        found = run("reservations", "search", "--instance", target.name, *options)
        assert found.exit_code == 0, found.output
        return _lids(found.stdout)

    assert lids() == ["A5", "A4", "A3", "A2", "A1"]
    assert lids("--app-lid", "A3") == ["A3"]
    assert lids("--from", "02/03/2027", "--to", "03/03/2027") == ["A3", "A2"]
    assert lids("--resource", "DR-2") == ["A4"]
    assert lids("--status", "cancelled_by_user") == ["A3"]
    assert lids("--answer", "cancelled") == ["A3"]
    assert lids("--answer", "NONE", "--to", "03/03/2027") == ["A2", "A1"]
    assert lids("--patient", "ana.garcia@example.com") == ["A2"]
    assert lids("--patient", "+34 699 11 12 22", "--status", "APPROVED") == []
    assert (
        str(ids["A3"])
        == run("reservations", "search", "--instance", target.name, "--app-lid", "A3").stdout.split(
            "\t"
        )[0]
    )


def test_pages_follow_each_other_without_gaps(
    run: Run, booked: tuple[instances.Instance, dict[str, int]]
) -> None:
    target, ids = booked
    first = run("reservations", "search", "--instance", target.name, "--limit", "2")
    assert _lids(first.stdout) == ["A5", "A4"]
    assert f"--before {ids['A4']}" in first.stderr
    second = run(
        "reservations",
        "search",
        "--instance",
        target.name,
        "--limit",
        "2",
        "--before",
        str(ids["A4"]),
    )
    assert _lids(second.stdout) == ["A3", "A2"]
    last = run(
        "reservations",
        "search",
        "--instance",
        target.name,
        "--limit",
        "2",
        "--before",
        str(ids["A2"]),
    )
    assert _lids(last.stdout) == ["A1"] and "--before" not in last.stderr


def test_json_for_scripts(run: Run, booked: tuple[instances.Instance, dict[str, int]]) -> None:
    target, ids = booked
    found = run(
        "reservations",
        "search",
        "--instance",
        target.name,
        "--patient",
        PHONE,
        "--json",
        "--limit",
        "1",
    )
    document = json.loads(found.stdout)
    assert document["instance"] == target.name
    assert document["next_before"] == ids["A5"]
    (item,) = document["items"]
    assert item["app_lid"] == "A5" and item["id"] == ids["A5"]
    assert item["app_date"] == "2027-03-11" and item["user_landline_phone"] == "+34 6** ** ** 78"


def test_nothing_found_and_bad_filters_say_so(
    run: Run, booked: tuple[instances.Instance, dict[str, int]]
) -> None:
    target, _ = booked
    none = run("reservations", "search", "--instance", target.name, "--app-lid", "NOPE")
    assert none.exit_code == 0 and none.stdout == "" and "no reservations match" in none.stderr
    bad_status = run("reservations", "search", "--instance", target.name, "--status", "LOST")
    assert bad_status.exit_code == 1 and "status must be one of PENDING" in bad_status.stderr
    bad_day = run("reservations", "search", "--instance", target.name, "--from", "31/02/2027")
    assert bad_day.exit_code == 2 and "--from" in bad_day.stderr
    backwards = run(
        "reservations",
        "search",
        "--instance",
        target.name,
        "--from",
        "02/03/2027",
        "--to",
        "01/03/2027",
    )
    assert backwards.exit_code == 1 and "before the start date" in backwards.stderr
    missing = run("reservations", "search", "--instance", "tt_cli_nobody")
    assert missing.exit_code == 1 and "tuotempo-soap instance create" in missing.stderr


@pytest.fixture
def sent(store: Store, fresh: Fresh) -> instances.Instance:
    target = fresh()
    day_one, day_two = datetime(2027, 3, 1, 9, 0), datetime(2027, 3, 2, 9, 0)
    for when, batch in (
        (
            day_one,
            [
                {"LEGACY_ID": "m1", "CHANNEL": "SMS", "TO": "612 345 678", "TEXT": "Hola"},
                {
                    "LEGACY_ID": "m2",
                    "CHANNEL": "EMAIL",
                    "TO": "Ana@Example.com",
                    "SUBJECT": "Cita",
                    "TEXT": "Hola",
                },
            ],
        ),
        (
            day_two,
            [
                {"LEGACY_ID": "m3", "CHANNEL": "SMS", "TO": "+34 699 111 222", "TEXT": "Hola"},
                {"LEGACY_ID": "m4", "CHANNEL": "VOICE", "TO": "0034612345678", "TEXT": "Hola"},
            ],
        ),
    ):
        messages.update_messages(store, target, batch, max_items=10, now=when)
    other = fresh()
    messages.update_messages(
        store,
        other,
        [{"LEGACY_ID": "m1", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "x"}],
        max_items=10,
    )
    return target


def test_messages_by_recipient_channel_status_legacy_id_and_day(
    run: Run, sent: instances.Instance
) -> None:
    def legacy(*options: str) -> list[str]:
        found = run("messages", "search", "--instance", sent.name, *options)
        assert found.exit_code == 0, found.output
        return _lids(found.stdout)

    assert legacy() == ["m4", "m3", "m2", "m1"]
    assert legacy("--to", "+34 612-345-678") == ["m4", "m1"]
    assert legacy("--to", "ana@example.com") == ["m2"]
    assert legacy("--channel", "sms") == ["m3", "m1"]
    assert legacy("--status", "queued", "--legacy-id", "m3") == ["m3"]
    assert legacy("--status", "SENT") == []
    assert legacy("--since", "02/03/2027") == ["m4", "m3"]
    assert legacy("--until", "01/03/2027") == ["m2", "m1"]

    shown = run("messages", "search", "--instance", sent.name, "--legacy-id", "m1").stdout
    assert "+34 6** ** ** 78" in shown and PHONE not in shown
    assert "01/03/2027 10:00" in shown  # queued at 09:00 UTC: 10:00 in Madrid
    assert "\tSMS\t" in shown and "\tQUEUED\t" in shown
    assert (
        "a***@e***.com"
        in run("messages", "search", "--instance", sent.name, "--channel", "email").stdout
    )


def test_messages_page_and_json(run: Run, sent: instances.Instance) -> None:
    first = run("messages", "search", "--instance", sent.name, "--limit", "3", "--json")
    document = json.loads(first.stdout)
    assert [item["legacy_id"] for item in document["items"]] == ["m4", "m3", "m2"]
    assert document["items"][0]["recipient"] == "+34 6** ** ** 78"
    rest = run(
        "messages",
        "search",
        "--instance",
        sent.name,
        "--limit",
        "3",
        "--json",
        "--unmasked",
        "--before",
        str(document["next_before"]),
    )
    following = json.loads(rest.stdout)
    assert [item["recipient"] for item in following["items"]] == [PHONE]
    assert following["next_before"] is None
    refused = run("messages", "search", "--instance", sent.name, "--channel", "PIGEON")
    assert refused.exit_code == 2 and "--channel" in refused.stderr
