import json
from datetime import time
from typing import Any

import pytest

from tuotempo_soap.domain.message import Channel
from tuotempo_soap.domain.reminders.rules import ReminderRules, RulesError, language_fallback
from tuotempo_soap.domain.reminders.templates import DEFAULT_TEMPLATES, LANGUAGES


def test_defaults() -> None:
    rules = ReminderRules()
    assert rules.enabled and rules.ask_confirmation and rules.notify_changes
    assert rules.offsets_hours == (72, 24)
    assert rules.channels == (Channel.SMS, Channel.EMAIL, Channel.VOICE)
    assert (rules.quiet_start, rules.quiet_end) == (time(21, 0), time(9, 0))
    assert not rules.require_privacy and not rules.cancellation_notice
    assert rules.post_visit_hours is None
    assert rules.templates == DEFAULT_TEMPLATES
    assert rules.languages == frozenset(LANGUAGES)


def test_json_round_trip() -> None:
    rules = ReminderRules(
        enabled=False,
        offsets_hours=(2, 48),
        channel_order=("whatsapp", "EMAIL"),
        quiet_start=time(22, 30),
        quiet_end=time(8, 0),
        ask_confirmation=False,
        require_privacy=True,
        notify_changes=False,
        cancellation_notice=True,
        post_visit_hours=4,
        clinic_phone=" +34 912 345 678 ",
        clinic_name="Clínica Sol",
        cancellation_email="desk@clinic.example",
        templates={"reminder": {"es": "Cita {date} {time}"}},
    )
    data = json.loads(json.dumps(rules.to_dict()))
    assert data["offsets_hours"] == [48, 2]
    assert data["channel_order"] == ["WHATSAPP", "EMAIL"]
    assert (data["quiet_start"], data["quiet_end"]) == ("22:30", "08:00")
    assert data["clinic_phone"] == "+34 912 345 678"
    assert data["templates"] == {"reminder": {"es": "Cita {date} {time}"}}
    assert ReminderRules.from_dict(data) == rules
    assert ReminderRules.from_dict(ReminderRules().to_dict()) == ReminderRules()


def test_absent_keys_take_defaults() -> None:
    assert ReminderRules.from_dict({}) == ReminderRules()
    assert ReminderRules.from_dict({"templates": None}) == ReminderRules()


def test_offsets_are_stored_sorted_descending() -> None:
    assert ReminderRules(offsets_hours=(24, 72, 2)).offsets_hours == (72, 24, 2)
    assert ReminderRules.from_dict({"offsets_hours": []}).offsets_hours == ()


def test_blank_texts_become_none() -> None:
    rules = ReminderRules(clinic_name="  ", clinic_phone="")
    assert rules.clinic_name is None and rules.clinic_phone is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"offsets_hours": [0]}, "offsets_hours"),
        ({"offsets_hours": [721]}, "offsets_hours"),
        ({"offsets_hours": [24, 24]}, "offsets_hours"),
        ({"offsets_hours": [True]}, "offsets_hours"),
        ({"offsets_hours": [1.5]}, "offsets_hours"),
        ({"offsets_hours": "24"}, "offsets_hours"),
        ({"channel_order": ["FAX"]}, "channel_order"),
        ({"channel_order": ["PUSH"]}, "channel_order"),
        ({"channel_order": ["SMS", "sms"]}, "channel_order"),
        ({"channel_order": []}, "channel_order"),
        ({"channel_order": [1]}, "channel_order"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_end": "nine"}, "quiet_end"),
        ({"quiet_start": 21}, "quiet_start"),
        ({"enabled": "yes"}, "enabled"),
        ({"require_privacy": 1}, "require_privacy"),
        ({"post_visit_hours": 0}, "post_visit_hours"),
        ({"post_visit_hours": "4"}, "post_visit_hours"),
        ({"clinic_name": 7}, "clinic_name"),
        ({"clinic_phone": "9" * 256}, "clinic_phone"),
        ({"cancellation_email": "not an address"}, "cancellation_email"),
        ({"quite_start": "21:00"}, "quite_start"),
        ({"templates": []}, "templates"),
        ({"templates": {"reminderx": {"es": "x"}}}, "templates.reminderx"),
        ({"templates": {"reminder": "x"}}, "templates.reminder"),
        ({"templates": {"reminder": {"ES": "x"}}}, "templates.reminder.ES"),
        ({"templates": {"reminder": {"es": "  "}}}, "templates.reminder.es"),
        ({"templates": {"reminder": {"es": 5}}}, "templates.reminder.es"),
        ({"templates": {"reminder": {"es": "{patient_name}"}}}, "templates.reminder.es"),
        ({"templates": {"reminder": {"es": "{date.__class__}"}}}, "templates.reminder.es"),
        ({"templates": {"help": {"it": "{date[0]}"}}}, "templates.help.it"),
        ({"templates": {"help": {"it": "{date!r}"}}}, "templates.help.it"),
        ({"templates": {"help": {"it": "oops {"}}}, "templates.help.it"),
        ({"templates": {"help": {"it": "x" * 10_001}}}, "templates.help.it"),
    ],
)
def test_invalid_rules_name_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(RulesError) as info:
        ReminderRules.from_dict(data)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}:")
    assert isinstance(info.value, ValueError)


def test_from_dict_refuses_a_non_object() -> None:
    with pytest.raises(RulesError) as info:
        ReminderRules.from_dict([])  # type: ignore[arg-type]
    assert info.value.key == "rules"


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(RulesError):
        ReminderRules(offsets_hours=(0,))
    with pytest.raises(RulesError):
        ReminderRules(quiet_start="21:00")  # type: ignore[arg-type]


def test_channel_names_are_normalised() -> None:
    rules = ReminderRules.from_dict({"channel_order": ["sms", " email ", "Voice"]})
    assert rules.channel_order == ("SMS", "EMAIL", "VOICE")


def test_equal_quiet_times_mean_no_quiet_hours() -> None:
    assert ReminderRules().has_quiet_hours
    assert not ReminderRules.from_dict(
        {"quiet_start": "00:00", "quiet_end": "0:00"}
    ).has_quiet_hours


def test_an_override_replaces_one_text_only() -> None:
    rules = ReminderRules.from_dict({"templates": {"reminder": {"es": "Hola, cita {date}"}}})
    assert rules.template("reminder", "es") == "Hola, cita {date}"
    assert rules.template("reminder", "it") == DEFAULT_TEMPLATES["reminder"]["it"]
    assert rules.template("ack_confirm", "es") == DEFAULT_TEMPLATES["ack_confirm"]["es"]
    assert rules.overrides() == {"reminder": {"es": "Hola, cita {date}"}}
    # An override equal to the built-in text is not one.
    same = ReminderRules(templates={"help": {"en": DEFAULT_TEMPLATES["help"]["en"]}})
    assert same.to_dict()["templates"] == {}


def test_an_instance_may_add_a_language() -> None:
    rules = ReminderRules(templates={"reminder": {"de": "Termin am {date}"}})
    assert "de" in rules.languages
    assert rules.template("reminder", "de-AT") == "Termin am {date}"
    # A kind the instance did not translate falls back to English.
    assert rules.template("help", "de") == DEFAULT_TEMPLATES["help"]["en"]


def test_template_lookup_by_tag_and_unknown_kind() -> None:
    rules = ReminderRules(templates={"reminder": {"pt-BR": "Lembrete {date}"}})
    assert rules.template("reminder", "pt_br") == "Lembrete {date}"
    assert rules.template("reminder", "pt-PT") == DEFAULT_TEMPLATES["reminder"]["pt"]
    with pytest.raises(RulesError):
        rules.template("birthday", "es")


@pytest.mark.parametrize(
    ("language", "default", "expected"),
    [
        ("es", "it", "es"),
        ("ES", "it", "es"),
        ("es_ES", "it", "es"),
        ("es-es", "it", "es"),
        ("pt-BR", "es", "pt"),
        ("spa", "it", "es"),
        ("ENG", "it", "en"),
        ("fre", "it", "fr"),
        ("de", "it", "it"),
        ("de-DE", "ca", "ca"),
        (None, "fr", "fr"),
        ("", "ca", "ca"),
        ("  ", "pt", "pt"),
        ("de", "xx", "en"),
        (None, "IT-it", "it"),
    ],
)
def test_language_fallback(language: str | None, default: str, expected: str) -> None:
    assert language_fallback(language, default) == expected


def test_language_fallback_prefers_a_full_tag_when_available() -> None:
    assert language_fallback("pt-br", "es", {"pt-BR", "pt", "es"}) == "pt-BR"
    assert language_fallback("de", "nl", {"es"}) == "en"
