"""``campaign create|preview|start|status|list|opt-out|opt-in`` through click's
runner on the real database: a list file with filters, the preview's counts and
segments, the start, the report, and clear one-line refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli.conftest import Run
from tuotempo_soap.services import audit, instances
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.store.engine import Store

LIST = (
    "Name;USER_MOBILE_PHONE;AGE;USER_LANGUAGE\n"
    "Ana;611000001;70;es\n"
    "Bea;611000002;80;it\n"
    "Carla;611000003;30;es\n"
    "Dora;+34 611 000 001;70;es\n"
    "Eva;12;70;es\n"
)


def test_create_preview_start_and_status(
    run: Run, fresh: Callable[..., instances.Instance], store: Store, tmp_path: Path
) -> None:
    target = fresh()
    patients = tmp_path / "patients.csv"
    patients.write_text(LIST)
    created = run(
        "campaign",
        "create",
        target.name,
        "--name",
        "Vacunas",
        "--file",
        str(patients),
        "--text",
        "es=Hola, le toca la vacuna.",
        "--text",
        "it=Ciao, tocca a lei: è ora.",
        "--filter",
        "AGE >= 65",
        "--quiet-hours",
        "none",
    )
    assert created.exit_code == 0, created.output
    found = re.search(r"campaign (\d+) created \(DRAFT\): 2 recipient\(s\)", created.output)
    assert found is not None, created.output
    campaign_id = found.group(1)
    assert "5 row(s) read, 1 filtered out, 1 unusable, 1 repeated" in created.output
    assert "line 6: not a phone number of ES or in +country form" in created.output
    assert "611000001" not in created.output

    out = run("campaign", "opt-out", target.name, "611 000 002")
    assert out.exit_code == 0 and "1 address(es) opted out" in out.output

    preview = run("campaign", "preview", target.name, campaign_id, "--json")
    assert preview.exit_code == 0, preview.output
    seen = json.loads(preview.output)
    assert (seen["recipients"], seen["opted_out"], seen["to_send"]) == (2, 1, 1)
    languages = {item["language"]: item for item in seen["languages"]}
    assert languages["es"]["segments"] == 1 and languages["es"]["encoding"] == "GSM-7"
    assert languages["it"]["recipients"] == 0  # Bea opted out
    assert seen["segments"] == 1
    text = run("campaign", "preview", target.name, campaign_id)
    assert "cost: 1 SMS segment(s)" in text.output
    assert "es: 1 x 1 segment(s) GSM-7 = 1" in text.output

    started = run("campaign", "start", target.name, campaign_id)
    assert started.exit_code == 0, started.output
    assert f"campaign {campaign_id} started: 1 queued, 1 skipped (opted out)" in started.output
    again = run("campaign", "start", target.name, campaign_id)
    assert again.exit_code == 1
    assert again.output.strip() == f"error: campaign {campaign_id} was already started"

    status = run("campaign", "status", target.name, campaign_id, "--recipients", "10")
    assert status.exit_code == 0, status.output
    assert "total: 2" in status.output and "opted out (skipped): 1" in status.output
    assert "waiting in the outbox: 1" in status.output
    assert "+34 6** ** ** 01" in status.output and "+34611000001" not in status.output
    report = json.loads(run("campaign", "status", target.name, campaign_id, "--json").output)
    assert (report["total"], report["waiting"], report["opted_out"]) == (2, 1, 1)

    listed = run("campaign", "list", target.name)
    assert f"{campaign_id}\t" in listed.output and "STARTED" in listed.output
    entries = audit.page(store, Actor.of(None, "t", None), instance_id=target.id).entries
    assert [(e.action, e.outcome, e.operator_name) for e in entries] == [
        ("CAMPAIGN_START", "REFUSED", "cli"),
        ("CAMPAIGN_START", "DONE", "cli"),
        ("CAMPAIGN_CREATE", "DONE", "cli"),
    ]
    back = run("campaign", "opt-in", target.name, "+34611000002")
    assert back.exit_code == 0
    assert run("campaign", "opt-in", target.name, "+34611000002").exit_code == 1


def test_pasted_addresses_from_standard_input(
    run: Run, fresh: Callable[..., instances.Instance]
) -> None:
    target = fresh()
    created = run(
        "campaign",
        "create",
        target.name,
        "--name",
        "Aviso",
        "--addresses",
        "-",
        "--text",
        "es=Hola",
        input="611000001\n611000002, 611 000 001\n",
    )
    assert created.exit_code == 0, created.output
    assert "2 recipient(s); 3 row(s) read, 0 filtered out, 0 unusable, 1 repeated" in (
        created.output
    )


def test_refusals_are_one_line_naming_what_to_fix(
    run: Run, fresh: Callable[..., instances.Instance], tmp_path: Path
) -> None:
    target = fresh()
    patients = tmp_path / "patients.csv"
    patients.write_text(LIST)
    base = ["campaign", "create", target.name, "--name", "X", "--file", str(patients)]
    unknown = run(*base, "--text", "es=Hola", "--filter", "CITY = Madrid")
    assert unknown.exit_code == 1
    assert unknown.output.startswith("error: 'CITY = Madrid': the list has no column 'CITY'")
    assert len(unknown.output.strip().splitlines()) == 1
    no_text = run(*base, "--text", "Hola")
    assert no_text.exit_code == 2 and "is not LANG=TEXT" in no_text.output
    both = run(*base, "--addresses", "611000001", "--text", "es=Hola")
    assert both.exit_code == 2 and "either --file or --addresses" in both.output
    missing = run("campaign", "status", target.name, "999999")
    assert missing.exit_code == 1
    assert missing.output.strip() == f"error: no campaign 999999 in {target.name}"
