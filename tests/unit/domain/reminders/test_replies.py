from datetime import UTC, datetime

import pytest

from tuotempo_soap.domain.reminders.replies import (
    Outcome,
    ReplyIntent,
    decide,
    parse_keypad,
    parse_reply,
)
from tuotempo_soap.domain.reservation import PatientAnswer

C, X, U = ReplyIntent.CONFIRM, ReplyIntent.CANCEL, ReplyIntent.UNCLEAR


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # Spanish
        ("Sí, gracias", "es", C),
        ("si!!", "es", C),
        ("SI", "es", C),
        ("confirmo", "es", C),
        ("Vale, perfecto", "es", C),
        ("Hola, buenos días. Sí, allí estaré", "es", C),
        ("Confirmo pero llegaré 10 minutos tarde", "es", C),
        ("No quiero anular, allí estaré", "es", C),
        ("NO puedo ir", "es", X),
        ("no gracias", "es", X),
        ("No, gracias", "es", X),
        ("anulo", "es", X),
        ("cancelar", "es", X),
        ("Quiero cancelar la cita", "es", X),
        ("Lo siento, no podré ir", "es", X),
        ("No, confirmo", "es", U),  # both words: not guessed at
        ("Sí, anulo", "es", U),
        ("No confirmo", "es", U),
        ("Quería saber si puedo cambiar la cita", "es", U),  # "si" = if, far from the start
        ("la cita del 2 de mayo", "es", U),  # a digit inside a sentence is not an answer
        ("¿Puedo cancelar?", "es", U),  # a question is not an answer
        ("Gracias", "es", U),
        # Italian
        ("Sì", "it", C),
        ("confermo", "it", C),
        ("Va bene, grazie", "it", C),
        ("OK!", "it", C),
        ("Ci sarò", "it", C),
        ("annulla", "it", X),
        ("disdico", "it", X),
        ("non vengo", "it", X),
        ("Non posso venire", "it", X),
        ("No grazie", "it", X),
        ("Grazie mille", "it", U),
        # English
        ("yes please", "en", C),
        ("Yes, I'll be there", "en", C),
        ("confirm", "en", C),
        ("no problem", "en", C),
        ("cancel", "en", X),
        ("nope", "en", X),
        ("I can't come", "en", X),
        ("no thanks", "en", X),
        ("Can I cancel?", "en", U),
        # Catalan
        ("D'acord, hi seré", "ca", C),
        ("anul·lo", "ca", X),
        ("No hi seré", "ca", X),
        # Portuguese
        ("sim", "pt", C),
        ("Sim, estarei no dia", "pt", C),  # Portuguese "no" is "in the", not a refusal
        ("não", "pt", X),
        ("Não posso ir", "pt", X),
        ("desmarcar", "pt", X),
        # French
        ("oui", "fr", C),
        ("d'accord", "fr", C),
        ("Confirmé, merci", "fr", C),
        ("non", "fr", X),
        ("Non merci", "fr", X),
        ("Je ne viendrai pas", "fr", X),
        # universal and cross-language
        ("1", None, C),
        ("2", None, X),
        (" 1. ", "es", C),
        ("ok", None, C),
        ("Y", None, C),
        ("n", "en", X),
        ("non", None, X),
        ("yes", "de", C),  # unknown language: all languages
        ("Si", "fr", C),  # nothing in French: all languages
        ("ANNULLA", "es", X),  # nothing in Spanish: all languages
        ("Sim, estarei no dia", None, U),  # without the language, "no" is read as a refusal
        ("", None, U),
        ("!!!", "es", U),
        ("👍", None, U),
        ("12", None, U),
    ],
)
def test_parse_reply(text: str, language: str | None, expected: ReplyIntent) -> None:
    assert parse_reply(text, language) == expected


@pytest.mark.parametrize(
    ("digit", "expected"), [("1", C), ("2", X), (" 1 ", C), ("3", U), ("#", U), ("", U)]
)
def test_parse_keypad(digit: str, expected: ReplyIntent) -> None:
    assert parse_keypad(digit) == expected


START = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
BEFORE = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)
AFTER = datetime(2027, 3, 10, 9, 30, tzinfo=UTC)
CONFIRMED, CANCELLED = PatientAnswer.CONFIRMED, PatientAnswer.CANCELLED


@pytest.mark.parametrize(
    ("status", "answer", "intent", "now", "outcome", "recorded", "ack"),
    [
        (None, None, C, BEFORE, Outcome.CONFIRMED, CONFIRMED, "ack_confirm"),
        ("PENDING", None, C, BEFORE, Outcome.CONFIRMED, CONFIRMED, "ack_confirm"),
        ("APPROVED", None, X, BEFORE, Outcome.CANCELLED, CANCELLED, "ack_cancel"),
        # CONFIRM after CONFIRM: nothing new, acknowledged again.
        ("APPROVED", "CONFIRMED", C, BEFORE, Outcome.ALREADY_CONFIRMED, None, "ack_confirm"),
        # CANCEL after CONFIRM: a patient may change their mind.
        ("APPROVED", "CONFIRMED", X, BEFORE, Outcome.CANCELLED, CANCELLED, "ack_cancel"),
        # CONFIRM after the patient's CANCEL does not re-instate, even before the HIS applied it.
        (
            "CANCELLED by USER",
            "CANCELLED",
            C,
            BEFORE,
            Outcome.ALREADY_CANCELLED,
            None,
            "ack_already_cancelled",
        ),
        (
            "APPROVED",
            "CANCELLED",
            C,
            BEFORE,
            Outcome.ALREADY_CANCELLED,
            None,
            "ack_already_cancelled",
        ),
        (
            "APPROVED",
            "CANCELLED",
            X,
            BEFORE,
            Outcome.ALREADY_CANCELLED,
            None,
            "ack_already_cancelled",
        ),
        # Cancelled by the clinic: nothing changes.
        (
            "CANCELLED by ADMIN",
            None,
            C,
            BEFORE,
            Outcome.ALREADY_CANCELLED,
            None,
            "ack_already_cancelled",
        ),
        (
            "CANCELLED by ADMIN",
            "CONFIRMED",
            X,
            BEFORE,
            Outcome.ALREADY_CANCELLED,
            None,
            "ack_already_cancelled",
        ),
        (
            "CANCELLED by USER",
            None,
            U,
            BEFORE,
            Outcome.ALREADY_CANCELLED,
            None,
            "ack_already_cancelled",
        ),
        # Unclear: help.
        ("PENDING", None, U, BEFORE, Outcome.HELP, None, "help"),
        ("APPROVED", "CONFIRMED", U, BEFORE, Outcome.HELP, None, "help"),
        # After the start, nothing at all.
        (None, None, C, AFTER, Outcome.TOO_LATE, None, "ack_too_late"),
        ("APPROVED", None, X, AFTER, Outcome.TOO_LATE, None, "ack_too_late"),
        ("CANCELLED by ADMIN", None, X, AFTER, Outcome.TOO_LATE, None, "ack_too_late"),
        (None, None, U, AFTER, Outcome.TOO_LATE, None, "ack_too_late"),
        (None, None, X, START, Outcome.TOO_LATE, None, "ack_too_late"),
    ],
)
def test_decide(
    status: str | None,
    answer: str | None,
    intent: ReplyIntent,
    now: datetime,
    outcome: Outcome,
    recorded: PatientAnswer | None,
    ack: str,
) -> None:
    decision = decide(status, answer, intent, START, now)
    assert (decision.outcome, decision.answer, decision.ack_kind) == (outcome, recorded, ack)
    assert decision.changes is (recorded is not None)
    assert decision.cancels is (recorded is CANCELLED)


def test_decide_reads_naive_times_as_utc() -> None:
    naive_start = START.replace(tzinfo=None)
    assert decide(None, None, C, naive_start, BEFORE).outcome is Outcome.CONFIRMED
    assert decide(None, None, C, START, AFTER.replace(tzinfo=None)).outcome is Outcome.TOO_LATE
