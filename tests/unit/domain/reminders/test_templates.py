from datetime import date, time

import pytest

from tuotempo_soap.domain.message import Channel, sms_size
from tuotempo_soap.domain.reminders.templates import (
    DEFAULT_TEMPLATES,
    KINDS,
    LANGUAGES,
    PLACEHOLDERS,
    Slot,
    TemplateError,
    appointments_line,
    check_template,
    placeholder_values,
    render,
    reply_hints,
    sms_safe,
    tidy,
    weekday_name,
)


def test_every_kind_has_a_valid_text_in_every_language() -> None:
    assert set(DEFAULT_TEMPLATES) == set(KINDS)
    for kind in KINDS:
        assert set(DEFAULT_TEMPLATES[kind]) == set(LANGUAGES), kind
        for text in DEFAULT_TEMPLATES[kind].values():
            check_template(text)


def test_subject_kinds_follow_message_kinds() -> None:
    assert "email_subject_reminder" in KINDS and "email_subject_help" in KINDS
    assert "reminder" in KINDS and "ack_already_cancelled" in KINDS


def test_render_fills_plain_names_and_leaves_missing_ones_empty() -> None:
    assert render("Cita {date} a las {time}.", {"date": "10/03/2027"}) == "Cita 10/03/2027 a las ."
    assert render("{{literal}} {clinic}", {"clinic": "Sol"}) == "{literal} Sol"
    assert render("no placeholders", {}) == "no placeholders"


def test_render_does_not_evaluate_values() -> None:
    assert render("{date}", {"date": "{clinic.__class__}"}) == "{clinic.__class__}"


@pytest.mark.parametrize(
    "template",
    [
        "{date.__class__}",
        "{date.__class__.__mro__}",
        "{date[0]}",
        "{values[date]}",
        "{0}",
        "{}",
        "{date!r}",
        "{date:>10}",
        "{date:{time}}",
        "oops {",
        "oops }",
    ],
)
def test_render_refuses_anything_but_plain_names(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, {"date": "10/03/2027", "time": "09:30"})
    with pytest.raises(TemplateError):
        check_template(template)


def test_check_template_names_the_unknown_placeholder() -> None:
    with pytest.raises(TemplateError, match=r"\{patient_name\}"):
        check_template("Hola {patient_name}")
    for name in PLACEHOLDERS:
        check_template(f"{{{name}}}")


def test_tidy_collapses_blanks_left_by_empty_values() -> None:
    assert tidy("  Cita  el  lunes.  \n  Confirmar: x \n") == "Cita el lunes.\nConfirmar: x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sábado", "sabado"),
        ("NÃO", "NAO"),
        ("terça-feira", "terca-feira"),
        ("anul·lar", "anul.lar"),
        ("lunedì è già", "lunedì è già"),  # all GSM-7 already
        ("Núñez", "Nuñez"),
        ("it\u2019s", "it's"),  # typographic apostrophe
        ("Привет", "Привет"),  # no GSM-7 stand-in: left as it was
        ("sábado 😀", "sábado 😀"),
    ],
)
def test_sms_safe(text: str, expected: str) -> None:
    assert sms_safe(text) == expected


def test_weekday_names_are_localised() -> None:
    wednesday = date(2027, 3, 10)
    assert weekday_name(wednesday, "es") == "miércoles"
    assert weekday_name(wednesday, "it") == "mercoledì"
    assert weekday_name(wednesday, "en") == "Wednesday"
    assert weekday_name(wednesday, "ca") == "dimecres"
    assert weekday_name(wednesday, "pt") == "quarta-feira"
    assert weekday_name(wednesday, "fr-CA") == "mercredi"
    assert weekday_name(wednesday, "de") == "Wednesday"


def test_appointments_line() -> None:
    day = date(2027, 3, 10)
    assert (
        appointments_line([Slot(day, time(9, 30), "Dr Rossi"), Slot(day, time(11, 0), "Lab")])
        == "09:30 Dr Rossi; 11:00 Lab"
    )
    assert appointments_line([Slot(day, time(9, 30), "Dr Rossi", "Centro")]) == (
        "09:30 Dr Rossi (Centro)"
    )
    assert appointments_line([Slot(day, None, None, "Centro"), Slot(day)]) == "Centro"
    assert appointments_line([]) == ""


def test_reply_hints_per_channel() -> None:
    assert reply_hints(Channel.SMS, "es") == (
        "Responda SI para confirmar o NO para anular.",
        "Para anular responda NO.",
    )
    assert reply_hints("WHATSAPP", "en")[0] == "Reply YES to confirm or NO to cancel."
    assert reply_hints("VOICE", "it")[0] == "Prema 1 per confermare o 2 per disdire."
    assert reply_hints("SMS", "de")[0] == "Reply YES to confirm or NO to cancel."
    confirm, cancel = reply_hints("EMAIL", "es", confirm_url="https://c", cancel_url="https://k")
    assert confirm.strip().splitlines() == ["Confirmar: https://c", "Anular: https://k"]
    assert cancel.strip() == "Anular: https://k"
    assert reply_hints("EMAIL", "es") == ("", "")


def test_placeholder_values() -> None:
    slots = [Slot(date(2027, 3, 10), time(9, 30), "Dr Rossi", "Centro", "Cardiología")]
    values = placeholder_values(
        slots,
        language="it",
        channel="SMS",
        clinic="Clinica Sol",
        clinic_phone="+39 06 123",
        old_day=date(2027, 3, 8),
        old_start=time(16, 0),
    )
    assert set(values) == PLACEHOLDERS
    assert values["date"] == "10/03/2027" and values["time"] == "09:30"
    assert values["weekday"] == "mercoledì"
    assert values["activity"] == "Cardiología"
    assert (values["old_date"], values["old_time"]) == ("08/03/2027", "16:00")
    assert values["confirm_hint"].startswith("Risponda SI")
    silent = placeholder_values(slots, language="it", channel="SMS", ask_confirmation=False)
    assert silent["confirm_hint"] == "" and silent["cancel_hint"] == "Per disdire risponda NO."
    assert placeholder_values([], language="es", channel="SMS")["date"] == ""


@pytest.mark.parametrize("language", ["es", "it", "en"])
@pytest.mark.parametrize("weekday", range(7))
def test_reminder_fits_one_gsm7_sms_with_typical_values(language: str, weekday: int) -> None:
    day = date(2027, 3, 8 + weekday)  # Monday 08/03/2027 onwards
    values = placeholder_values(
        [Slot(day, time(9, 30), "Dra. García López", "Centro Salud Norte")],
        language=language,
        channel="SMS",
        clinic="Clínica Sol",
    )
    text = sms_safe(tidy(render(DEFAULT_TEMPLATES["reminder"][language], values)))
    size = sms_size(text)
    assert size.encoding == "GSM-7", text
    assert size.units <= 160, text


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sms_text_becomes_gsm7(language: str) -> None:
    values = placeholder_values(
        [Slot(date(2027, 3, 13), time(9, 30), "Dr Rossi", "Centro")],  # a Saturday: sábado
        language=language,
        channel="SMS",
        clinic="Clinica Sol",
        clinic_phone="+34912345678",
        old_day=date(2027, 3, 12),
        old_start=time(10, 0),
    )
    for kind in KINDS:
        text = sms_safe(tidy(render(DEFAULT_TEMPLATES[kind][language], values)))
        assert sms_size(text).encoding == "GSM-7", (kind, text)
