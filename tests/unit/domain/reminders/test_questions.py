"""Asking which appointment a reply is about, and reading the numbered answer."""

from __future__ import annotations

from datetime import date, time

import pytest

from tuotempo_soap.domain.reminders.questions import Choice, read_choice, which_appointment
from tuotempo_soap.domain.reminders.replies import ReplyIntent, parse_reply


def test_the_question_lists_each_appointment_numbered() -> None:
    text = which_appointment(
        "es",
        [Choice(date(2027, 3, 2), time(12, 0), "Clinica A"), Choice(date(2027, 3, 4), None)],
    )
    lines = text.splitlines()
    assert "1 SI o 2 NO" in lines[0]
    assert lines[1:] == ["1: 02/03/2027 12:00 Clinica A", "2: 04/03/2027"]


@pytest.mark.parametrize("language", ["es", "it", "en", "ca", "pt", "fr", "pt-BR", None, "de"])
def test_every_language_gets_a_question_in_plain_gsm7(language: str | None) -> None:
    text = which_appointment(language, [Choice(date(2027, 3, 2), time(9, 0))])
    assert text.isascii() and "1: 02/03/2027 09:00" in text


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1 NO", (0, "NO")),
        ("2 si", (1, "si")),
        (" 2: no puedo ir ", (1, "no puedo ir")),
        ("1) yes", (0, "yes")),
        ("2.confirmo", (1, "confirmo")),
        ("1-no", (0, "no")),
        ("3 NO", None),  # not on a list of two
        ("0 NO", None),
        ("1", None),  # a number alone answers nothing
        ("NO", None),
        ("no 1", None),
        ("12NO", None),
        ("² NO", None),
    ],
)
def test_read_choice(reply: str, expected: tuple[int, str] | None) -> None:
    assert read_choice(reply, 2) == expected


def test_the_answer_after_the_number_reads_like_any_reply() -> None:
    choice = read_choice("2 NO, no puedo ir", 2)
    assert choice is not None
    assert parse_reply(choice[1], "es") is ReplyIntent.CANCEL
