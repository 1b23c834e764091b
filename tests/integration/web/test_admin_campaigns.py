"""The back office's campaign pages over HTTP, through the in-process WSGI
application on the real database: the list, the creation form (a CSV or Excel
upload, or pasted addresses, with filters and texts per language), the preview
(recipients, opted out, SMS segments), the start button and the status page.
Every POST needs its CSRF token; addresses are masked; operators of another
instance get 404."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import Workbook

from tests.admin_client import AdminClient, new_operator
from tests.conftest import make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.services import audit, campaigns, instances
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.web.app import TuotempoApp, create_app

HEADER = "Nombre;USER_MOBILE_PHONE;EDAD;IDIOMA;RESOURCE_LID\n"
ROWS = [
    "Ana;611000001;70;es;DR1",
    "Bea;611000002;80;it;DR2",
    "Carla;611000003;30;es;DR1",  # too young
    "Dora;+34 611 000 001;70;es;DR1",  # Ana again
    "Eva;12;70;es;DR1",  # unusable
    "Fe;611000006;66;es;DR1",
]
FILTERS = "EDAD >= 65\nRESOURCE_LID in DR1, DR2"


@pytest.fixture
def app(settings: Settings) -> Iterator[TuotempoApp]:
    built = create_app(settings)
    yield built
    built.store.dispose()


def new_instance(store: Any, language: str = "es") -> Instance:
    return instances.get_instance(store, make_instance(store, language=language).instance)


def signed_in(app: TuotempoApp, *granted: Instance) -> AdminClient:
    client = AdminClient(app)
    response = client.signin(new_operator(app.store, [i.name for i in granted]))
    assert response.status_code == 303
    return client


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def form(**fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "Vacunas",
        "channel": "SMS",
        "text_es": "Campaña de vacunas: pida cita.",  # ñ is GSM-7 (ó would not be)
        "text_it": "Campagna di vaccinazione: prenoti.",
        "text_en": "",
        "default_language": "es",
        "filters": FILTERS,
        "rate_per_minute": "60",
        "quiet_hours": "",
        "send_after": "",
        "addresses": "",
        **fields,
    }
    return values


def upload(name: str, data: bytes) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def csv_file() -> tuple[io.BytesIO, str]:
    return upload("pacientes.csv", (HEADER + "\n".join(ROWS) + "\n").encode("cp1252"))


def trail(app: TuotempoApp, instance: Instance) -> list[tuple[str, str, str]]:
    entries = audit.page(app.store, Actor.of(None, "t", None), instance_id=instance.id).entries
    return [(e.action, e.outcome, e.operator_name) for e in entries]


def test_create_preview_start_and_follow_a_campaign(app: TuotempoApp) -> None:
    store = app.store
    instance = new_instance(store)
    campaigns.opt_out(store, instance, ["611000006"])
    client = signed_in(app, instance)
    base = f"/admin/{instance.name}/campaigns"

    listing = client.get(base)
    assert listing.status_code == 200
    assert f'href="{base}"' in text(listing)  # the navigation's entry
    assert "Todavía no hay campañas." in text(listing)
    assert "dadas de baja de las campañas de esta instancia: 1" in text(listing)
    page = client.get(f"{base}/new")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in text(page)
    assert "STOP" in text(page) and "BAJA" in text(page)

    # Without the form's token: refused before anything happens.
    refused = client.post(f"{base}/new", form(file=csv_file()), csrf=False)  # type: ignore[arg-type]
    assert refused.status_code == 403
    assert campaigns.list_campaigns(store, instance).campaigns == []

    created = client.post(f"{base}/new", form(file=csv_file()))  # type: ignore[arg-type]
    assert created.status_code == 303, text(created)
    match = re.fullmatch(rf"{base}/(\d+)/preview", created.headers["Location"])
    assert match is not None
    campaign_id = int(match.group(1))

    preview = text(client.get(created.headers["Location"]))
    assert "La campaña está creada" in preview  # the notice, once
    assert re.search(r'id="recipients">3<', preview)  # Ana, Bea, Fe
    assert re.search(r'id="opted-out">1<', preview)  # Fe
    assert re.search(r'id="to-send">2<', preview)
    assert "2 segmentos SMS" in preview
    assert "UCS-2" not in preview and "GSM-7" in preview
    assert "pacientes.csv" in preview
    assert "línea 6: not a phone number of ES or in +country form" in preview
    assert 'id="start"' in preview

    start = f"{base}/{campaign_id}/start"
    assert client.post(start, csrf=False).status_code == 403
    assert campaigns.get_campaign(store, instance, campaign_id).state == "DRAFT"
    started = client.post(start)
    assert started.status_code == 303
    assert started.headers["Location"] == f"{base}/{campaign_id}"

    status = client.get(started.headers["Location"])
    page_text = text(status)
    assert status.status_code == 200
    assert "La campaña se ha iniciado" in page_text
    assert re.search(r'id="r-total">3<', page_text)
    assert re.search(r'id="r-waiting">2<', page_text)
    assert re.search(r'id="r-opted-out">1<', page_text)
    # Addresses masked, never whole.
    assert "611000001" not in page_text and "+34611000001" not in page_text
    assert "+34 6** ** ** 01" in page_text

    # A second start is refused, and says so.
    again = client.post(start)
    assert "Esta campaña ya se había iniciado." in text(client.get(again.headers["Location"]))
    assert trail(app, instance)[:3] == [
        ("CAMPAIGN_START", "REFUSED", trail(app, instance)[0][2]),
        ("CAMPAIGN_START", "DONE", trail(app, instance)[0][2]),
        ("CAMPAIGN_CREATE", "DONE", trail(app, instance)[0][2]),
    ]
    assert trail(app, instance)[0][2].startswith("op_")

    listing = text(client.get(base))
    assert "Vacunas" in listing and "Iniciada" in listing


def test_pasted_addresses_and_a_larger_upload(app: TuotempoApp) -> None:
    instance = new_instance(app.store, "it")
    client = signed_in(app, instance)
    base = f"/admin/{instance.name}/campaigns"
    pasted = client.post(
        f"{base}/new",
        form(addresses="611 000 001\n+34611000001, 611000002", filters="", text_it=""),
    )
    assert pasted.status_code == 303
    preview = text(client.get(pasted.headers["Location"]))
    assert re.search(r'id="recipients">2<', preview)
    assert "indirizzi incollati" in preview

    # 5,000 rows (about 120 KB): more than the back office's other forms take.
    rows = "".join(f"P{i};6{20000000 + i};70;es;DR1\n" for i in range(5000))
    big = client.post(
        f"{base}/new",
        form(file=upload("grande.csv", (HEADER + rows).encode())),  # type: ignore[arg-type]
    )
    assert big.status_code == 303, text(big)
    assert re.search(r'id="recipients">5000<', text(client.get(big.headers["Location"])))


def test_an_excel_upload(app: TuotempoApp) -> None:
    instance = new_instance(app.store)
    client = signed_in(app, instance)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Nombre", "Móvil", "Edad"])
    sheet.append(["Ana", 611000001, 70])
    sheet.append(["Bea", 611000002, 20])
    data = io.BytesIO()
    book.save(data)
    created = client.post(
        f"/admin/{instance.name}/campaigns/new",
        form(
            file=upload("pacientes.xlsx", data.getvalue()),
            filters="Edad > 65",
            address_column="Móvil",
        ),  # type: ignore[arg-type]
    )
    assert created.status_code == 303, text(created)
    preview = text(client.get(created.headers["Location"]))
    assert re.search(r'id="recipients">1<', preview)
    assert "pacientes.xlsx" in preview


def test_a_bad_form_says_which_field_and_keeps_what_was_typed(app: TuotempoApp) -> None:
    instance = new_instance(app.store)
    client = signed_in(app, instance)
    url = f"/admin/{instance.name}/campaigns/new"
    bad_filter = client.post(url, form(file=csv_file(), filters="CIUDAD = Madrid"))  # type: ignore[arg-type]
    assert bad_filter.status_code == 400
    page = text(bad_filter)
    assert "Filtros: 'CIUDAD = Madrid': the list has no column 'CIUDAD'" in page
    assert 'value="Vacunas"' in page and "CIUDAD = Madrid</textarea>" in page
    nothing = client.post(url, form())
    assert nothing.status_code == 400
    assert "Lista de pacientes (CSV o Excel .xlsx): choose a file" in text(nothing)
    no_text = client.post(url, form(addresses="611000001", text_es="", text_it=""))
    assert "Texto: write the text in one language at least" in text(no_text)
    too_long = client.post(url, form(addresses="611000001", text_es="ć" * 700))
    assert "Texto (es): the text needs 11 SMS segments" in text(too_long)
    bad_rate = client.post(url, form(addresses="611000001", rate_per_minute="many"))
    assert "Mensajes por minuto: 'many' is not a whole number" in text(bad_rate)
    assert campaigns.list_campaigns(app.store, instance).campaigns == []


def test_another_instance_s_operator_sees_nothing(app: TuotempoApp) -> None:
    store = app.store
    mine, theirs = new_instance(store), new_instance(store)
    owner = signed_in(app, mine)
    created = owner.post(
        f"/admin/{mine.name}/campaigns/new",
        form(addresses="611000001", filters=""),
    )
    campaign_id = created.headers["Location"].split("/")[-2]
    stranger = signed_in(app, theirs)
    for path in ("campaigns", "campaigns/new", f"campaigns/{campaign_id}/preview"):
        assert stranger.get(f"/admin/{mine.name}/{path}").status_code == 404
    # Its own instance's URL does not reach another instance's campaign either.
    assert stranger.get(f"/admin/{theirs.name}/campaigns/{campaign_id}").status_code == 404
    assert stranger.post(f"/admin/{theirs.name}/campaigns/{campaign_id}/start").status_code == 404
    assert stranger.post(f"/admin/{mine.name}/campaigns/{campaign_id}/start").status_code == 404
    assert campaigns.get_campaign(store, mine, int(campaign_id)).state == "DRAFT"
